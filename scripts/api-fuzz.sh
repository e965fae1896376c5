#!/usr/bin/env bash
# API fuzzing from the server's own OpenAPI document with schemathesis (README: "Run the
# tests"; RELIABILITY.md says what it proves).
#
# Builds the `secretstore` binary, starts `serve` on a free loopback port in a folder of
# its own (its own SQLite database and key), and runs schemathesis against
# /api/v1/openapi.json as root: every phase (examples, coverage, fuzzing, stateful) and
# every check but those excluded below, bounded in time. Fails on any failure, and when
# the server is not alive after. The server is stopped at the end, also on failure.
#
#   scripts/api-fuzz.sh                      # as CI runs it
#   SECRETSTORE_API_FUZZ_SECONDS=600 scripts/api-fuzz.sh   # a longer run
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=target/apifuzz-venv
SECONDS_BUDGET=${SECRETSTORE_API_FUZZ_SECONDS:-150}
EXAMPLES=${SECRETSTORE_API_FUZZ_EXAMPLES:-25}

log() { printf '== %s\n' "$*" >&2; }

if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  log "making $VENV (schemathesis $SCHEMATHESIS_VERSION)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
fi

# Built as the test command's `cargo test --workspace` builds it (scripts/readme-walkthrough.sh).
cargo test --workspace --locked --no-run -q >&2
BIN=$(realpath "${CARGO_TARGET_DIR:-target}/debug/secretstore")

DIR=$(mktemp -d "${TMPDIR:-/tmp}/secretstore-api-fuzz.XXXXXX")
PID=
stop() {
  if [ -n "$PID" ] && [ "$PID" -gt 1 ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap stop EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
(cd "$DIR" && env -u DATABASE_URL -u FERNET_SECRET_KEY -u SECRET_BACKEND "$BIN" init >/dev/null)
(cd "$DIR" && exec env -u DATABASE_URL -u FERNET_SECRET_KEY -u SECRET_BACKEND \
  SECRETSTORE_LISTEN="127.0.0.1:$PORT" SECRETSTORE_AUTH_FAILURES_PER_MINUTE=10000 \
  "$BIN" serve >"$DIR/serve.out" 2>"$DIR/serve.err") &
PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$DIR/serve.out" 2>/dev/null && break
  sleep 0.1
done
ROOT=$(grep -o 'sst_[A-Za-z0-9_-]*' "$DIR/serve.out" | head -1)
if [ -z "$ROOT" ]; then
  log "serve did not start:"; cat "$DIR/serve.err" >&2; exit 1
fi

# One worker: with two, schemathesis' coverage phase crashed inside CPython 3.11's ast.parse
# ("SystemError: AST constructor recursion depth mismatch", a thread-safety bug of the
# interpreter), a failure of the tool, not of the server.
#
# Excluded checks, each with its reason:
# - positive_data_acceptance: schema-valid data is not always acceptable input here: a
#   generated scope path or secret name matches the schema's type (a string) but not the
#   rules SPEC §2 gives them (lower-case segments, upper-case names, unsafe environment
#   names refused), and most ids name nothing that exists. The server answers those with
#   a documented 4xx, which is the contract.
EXCLUDE=positive_data_acceptance

log "schemathesis $SCHEMATHESIS_VERSION against $URL (at most ${SECONDS_BUDGET}s, $EXAMPLES examples per operation)"
status=0
# From the run's folder: schemathesis keeps its state (.schemathesis/) in the working folder.
ST=$PWD/$VENV/bin/schemathesis
(cd "$DIR" && "$ST" run "$URL/api/v1/openapi.json" \
  --url "$URL" \
  -H "Authorization: Bearer $ROOT" \
  --checks all --exclude-checks "$EXCLUDE" \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$EXAMPLES" --max-time "$SECONDS_BUDGET" \
  --request-timeout 10 --seed 1 \
  --generation-allow-x00 false \
  --workers 1 \
  --warnings off \
  --no-color) || status=$?

# The server is alive after.
if ! curl -fsS -o /dev/null "$URL/healthz"; then
  log "the server did not survive the run; its log:"; tail -50 "$DIR/serve.err" >&2
  exit 1
fi
if grep -q '"internal error"\|panicked' "$DIR/serve.err"; then
  log "the server logged an internal error or a panic:"; grep -m5 'internal error\|panicked' "$DIR/serve.err" >&2
  status=1
fi
exit "$status"
