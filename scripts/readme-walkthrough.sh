#!/usr/bin/env bash
# Runs README.md as a reader would paste it: every fenced ```sh block, in order, in one bash
# (so TASK, BRIEF, ROOT, API… carry from block to block), with `set -euo pipefail`, in a
# fresh temporary folder, with the debug binary that cargo builds on PATH as `secretstore`.
# The blocks are read from README.md itself, so the walk-through cannot drift from what the
# README says. A background `secretstore serve` that a block starts is stopped by its pid at
# the end, also when a block fails.
#
# Skipped: the blocks marked `<!-- walkthrough: skip (why) -->` on the line before their
# fence. Each kind, and why:
#   - the repository's own commands (cargo run/build/install, scripts/test.sh): this script
#     is run by scripts/test.sh and builds the binary itself;
#   - AWS Secrets Manager, S3 and Vault: real accounts and servers, not in CI (their
#     behaviour is tested against moto and OpenBao in crates/cli/tests/it/backends.rs);
#   - several servers on PostgreSQL: a PostgreSQL cluster, sudo and fixed ports (tested in
#     crates/cli/tests/it/cluster.rs);
#   - per-task AWS STS sessions: a real AWS account (tested against moto in
#     crates/cli/tests/it/generators.rs); the PostgreSQL one runs, on the test command's
#     server (PG_ADMIN);
#   - TLS: a second server on a fixed port with a certificate of its own (tested in
#     crates/cli/tests/it/serve.rs).
# A block marked `<!-- walkthrough: http-errors-expected -->` shows refusals on purpose
# (brute-force protection): its curl calls may answer 4xx. In every other block curl runs
# with --fail-with-body (a .curlrc of this script's own), so an HTTP error fails the block.
#
# Only 127.0.0.1 is contacted. If the README's port (8080) is taken, SECRETSTORE_LISTEN is
# set to a free one: the README's blocks take the address from what `serve` prints.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

log() { printf '== %s\n' "$*" >&2; }

log "readme walk-through: building secretstore"
# The binary as the test command's `cargo test --workspace` builds it (features unified with the
# tests' dependencies): `cargo build -p secretstore` would build every dependency a second
# time, minutes and gigabytes of disk that a CI machine may not have.
cargo test --workspace --locked --no-run -q >&2
bin="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/secretstore"

work=$(mktemp -d "${TMPDIR:-/tmp}/readme-walkthrough.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/bin" "$work/demo" "$work/curl-strict" "$work/curl-lenient"
ln -s "$bin" "$work/bin/secretstore"
printf 'fail-with-body\nno-progress-meter\nmax-time = 30\n' >"$work/curl-strict/.curlrc"
printf 'no-progress-meter\nmax-time = 30\n' >"$work/curl-lenient/.curlrc"

# The blocks, each preceded by a line that says where it comes from and how curl behaves.
awk -v strict="$work/curl-strict" -v lenient="$work/curl-lenient" '
  BEGIN { inblock = 0; n = 0; prev = "" }
  inblock && /^```[[:space:]]*$/ { inblock = 0; prev = $0; next }
  inblock { if (!skip) print; next }
  /^```(sh|bash|console)[[:space:]]*$/ {
    inblock = 1; n++
    skip = (prev ~ /^<!-- walkthrough: skip/)
    curlhome = (prev ~ /^<!-- walkthrough: http-errors-expected/) ? lenient : strict
    if (skip) printf "__skipped %d %d\n", n, NR
    else printf "__block %d %d %s\n", n, NR, curlhome
    next
  }
  { prev = $0 }
' README.md >"$work/blocks.sh"

ran=$(grep -c '^__block ' "$work/blocks.sh" || true)
skipped=$(grep -c '^__skipped ' "$work/blocks.sh" || true)
log "readme walk-through: $ran blocks to run, $skipped skipped (marked in README.md)"
[ "$ran" -gt 0 ] || { echo "README.md: no \`\`\`sh block found" >&2; exit 1; }

{
  cat <<'PROLOGUE'
set -euo pipefail
# Stop what the blocks started in the background (secretstore serve), by pid.
__stop() {
  local p
  for p in $(jobs -p); do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
trap __stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'echo "README walk-through: failed at README.md block $__n (line $__line): $BASH_COMMAND" >&2' ERR
__block() {
  __n=$1 __line=$2
  export CURL_HOME=$3
  printf '\n== README.md block %s (line %s)\n' "$1" "$2" >&2
}
__skipped() { printf '\n== README.md block %s (line %s): skipped\n' "$1" "$2" >&2; }
PROLOGUE
  cat "$work/blocks.sh"
  echo 'printf "\n== README walk-through: every block ran\n" >&2'
} >"$work/walkthrough.sh"

# The README's port, or a free one.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
listen=""
if port_taken 8080; then
  for p in $(shuf -i 20000-45000 -n 50); do
    if ! port_taken "$p"; then listen="127.0.0.1:$p"; break; fi
  done
  [ -n "$listen" ] || { echo "no free port found" >&2; exit 1; }
  log "readme walk-through: 8080 is taken, serve listens on $listen"
fi

# A clean environment: none of secretstore's settings (or the test services') leak in.
(
  cd "$work/demo"
  # The per-task credentials block needs a PostgreSQL admin URL: the test command's server.
  if [ -n "${SECRETSTORE_TEST_PG_URL:-}" ]; then export PG_ADMIN=$SECRETSTORE_TEST_PG_URL; fi
  for v in $(compgen -e); do
    case $v in
      FERNET_* | DATABASE_* | VAULT_* | AWS_* | BRIEF_* | SECRETSTORE_* | SECRET_BACKEND | RUST_LOG) unset "$v" ;;
    esac
  done
  if [ -n "$listen" ]; then export SECRETSTORE_LISTEN=$listen; fi
  export PATH="$work/bin:$PATH"
  start=$SECONDS
  timeout --signal=TERM 300 bash "$work/walkthrough.sh" </dev/null
  log "readme walk-through: passed in $((SECONDS - start)) s ($repo/README.md)"
)
