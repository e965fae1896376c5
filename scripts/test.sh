#!/usr/bin/env bash
# The whole test suite, as CI runs it (README: "Run the tests").
#
# Sets up what the tests need and nothing else: a Python venv with the pinned
# `cryptography` package (Fernet interoperability tests) and the sqlite3 shell
# (audit-log checks). Then formatting, lints, and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

CRYPTOGRAPHY_VERSION=50.0.2
VENV=target/test-venv

log() { printf '== %s\n' "$*" >&2; }

if ! command -v sqlite3 >/dev/null 2>&1; then
  log "installing sqlite3"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq sqlite3 >/dev/null
  fi
fi

if ! "$VENV/bin/python" -c "import cryptography, sys; sys.exit(cryptography.__version__ != '$CRYPTOGRAPHY_VERSION')" 2>/dev/null; then
  log "making $VENV with cryptography==$CRYPTOGRAPHY_VERSION"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "cryptography==$CRYPTOGRAPHY_VERSION"
fi
export SECRETSTORE_TEST_PYTHON="$PWD/$VENV/bin/python"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked
