#!/usr/bin/env bash
# The whole suite on real backends: start what is missing, run every test, stop what
# this run started (also on failure or Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
trap './scripts/test-backends.sh stop' EXIT
eval "$(./scripts/test-backends.sh start)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
    # nextest does not run doctests
    cargo test --workspace --doc --quiet
else
    cargo test --workspace --no-fail-fast "$@"
fi
