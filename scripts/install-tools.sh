#!/usr/bin/env bash
# Installs what Hotline needs and a fresh Debian machine lacks. Idempotent and quick
# when everything is present.
#   install-tools.sh run    what `make run` needs
#   install-tools.sh test   what `make test` needs (the Kafka-compatible broker, an
#                           S3-compatible server, Redis and PostgreSQL)
set -euo pipefail
what=${1:-test}
tools=${HOTLINE_TOOLS:-$HOME/.cache/hotline/tools}
export PATH="$tools/bin:$HOME/.cargo/bin:$PATH"
log() { echo "install-tools: $*" >&2; }

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    if [ -z "$apt_updated" ]; then sudo_if_needed apt-get update -qq; apt_updated=1; fi
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

cargo_tool() { # binary crate@version features...
    local bin=$1 spec=$2; shift 2
    local version=${spec#*@}
    if command -v "$bin" >/dev/null 2>&1 && "$bin" --version 2>/dev/null | grep -q "$version"; then
        return 0
    fi
    log "cargo install $spec (once per machine; this takes minutes)"
    cargo install --locked --root "$tools" "$spec" "$@"
}

# Building: C toolchain for librdkafka (rdkafka's bundled build) and SQLite.
apt_install build-essential pkg-config

if [ "$what" = test ]; then
    apt_install redis-server postgresql postgresql-client
    cargo_tool tansu tansu@0.6.0 --features dynostore,postgres
    cargo_tool s3s-fs s3s-fs@0.14.1 --features binary
fi
