#!/usr/bin/env bash
# The whole test suite, as CI runs it (README: "Run the tests").
#
# scripts/setup.sh installs what the tests need (sqlite3, Chromium and chromedriver,
# PostgreSQL, a Python venv with pinned `cryptography`, moto and OpenBao); then
# scripts/services.sh starts moto, OpenBao and PostgreSQL on free loopback ports for the
# tests, and stops them at the end. Then formatting, lints, the docs (rustdoc warnings are
# errors), every test of the workspace on SQLite, and the integration suites (command line,
# HTTP API) and the store again on PostgreSQL; the README's command-line and curl blocks run
# in order as written (scripts/readme-walkthrough.sh); then coverage-guided fuzzing of every parser
# of outside input (scripts/fuzz.sh, about a minute) and API fuzzing from the OpenAPI
# document (scripts/api-fuzz.sh, schemathesis, about two and a half minutes).
set -euo pipefail
cd "$(dirname "$0")/.."


# No incremental compilation: a clean checkout gains nothing from it, and it would take
# gigabytes of disk beside the build itself (a CI machine's disk may be small).
export CARGO_INCREMENTAL=0

log() { printf '== %s\n' "$*" >&2; }

log "setting up (scripts/setup.sh)"
scripts/setup.sh

trap 'scripts/services.sh stop' EXIT
services_env=$(scripts/services.sh start)
eval "$services_env"

log "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

log "cargo test (SQLite)"
cargo test --workspace --locked

log "cargo test (the integration suites and the store again, on PostgreSQL)"
SECRETSTORE_TEST_DB=postgres cargo test --locked -p secretstore -p secretstore-server -p secretstore-store

log "the README, block by block (scripts/readme-walkthrough.sh)"
scripts/readme-walkthrough.sh

log "fuzzing (scripts/fuzz.sh)"
scripts/fuzz.sh

log "API fuzzing (scripts/api-fuzz.sh)"
scripts/api-fuzz.sh

log "benchmarks, quick (secretstore-bench; figures printed, not asserted: BENCHMARKS.md)"
# The bench-ci profile (Cargo.toml): release, with the AWS SDK unoptimised to build faster.
cargo build --profile bench-ci --locked -q -p secretstore -p secretstore-bench
bench=$(realpath "${CARGO_TARGET_DIR:-target}")/bench-ci
"$bench/secretstore-bench" --quick --secretstore-bin "$bench/secretstore" \
  --postgres "$SECRETSTORE_TEST_PG_URL"
