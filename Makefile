# Hotline: the two commands first.
#   make run    installs what it needs, builds, starts everything in one process
#   make test   the whole suite, on real backends (tansu, Redis, PostgreSQL, s3s-fs)

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hotline/target
export PATH := $(HOME)/.cache/hotline/tools/bin:$(HOME)/.cargo/bin:$(PATH)
DATA_DIR ?= ./data

.PHONY: run build test lint fmt bench helm-lint tools backends-start backends-stop clean-data

## run: build and start `hotline all-in-one` (HTTP on 127.0.0.1:8080, data in ./data)
run:
	./scripts/install-tools.sh run
	cargo build -p hotline
	$(CARGO_TARGET_DIR)/debug/hotline all-in-one --demo --data-dir $(DATA_DIR)

build:
	cargo build --workspace --all-targets

## test: install missing tools, start the real backends, run every test, stop what was started
test:
	./scripts/install-tools.sh test
	./scripts/test.sh
	./scripts/helm-lint.sh

## lint: formatting and clippy, warnings are errors
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## helm-lint: lint, render and validate the Helm chart (offline once tools are installed)
helm-lint:
	./scripts/helm-lint.sh

## bench: every benchmark that exists
bench:
	cargo bench --workspace

tools:
	./scripts/install-tools.sh test

backends-start:
	./scripts/test-backends.sh start

backends-stop:
	./scripts/test-backends.sh stop

clean-data:
	rm -rf $(DATA_DIR)
