#!/usr/bin/env bash
# The whole test suite, as CI runs it (README: "Run the tests").
#
# Sets up what the tests need and nothing else: the sqlite3 shell (audit-log checks),
# Chromium and chromedriver (the web UI's end-to-end tests, crates/cli/tests/browser.rs)
# and, through scripts/services.sh, PostgreSQL 15 and a Python venv with pinned
# packages: `cryptography` (Fernet interoperability), moto (AWS Secrets Manager and S3)
# and OpenBao (the Vault API). Their servers run on free loopback ports for the tests
# and are stopped at the end. Then formatting, lints, every test of the workspace on
# SQLite, and the integration suites (command line, HTTP API) again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."


log() { printf '== %s\n' "$*" >&2; }

if ! command -v sqlite3 >/dev/null 2>&1; then
  log "installing sqlite3"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq sqlite3 >/dev/null
  fi
fi

if [ ! -x /usr/bin/chromedriver ]; then
  log "installing chromium and chromium-driver (the web UI's browser tests)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi

trap 'scripts/services.sh stop' EXIT
services_env=$(scripts/services.sh start)
eval "$services_env"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test (SQLite)"
cargo test --workspace --locked

log "cargo test (the integration suites again, on PostgreSQL)"
SECRETSTORE_TEST_DB=postgres cargo test --locked -p secretstore -p secretstore-server
