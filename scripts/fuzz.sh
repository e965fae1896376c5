#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every parser of outside input, each
# target for a bounded time (README: "Run the tests"; RELIABILITY.md says what each
# target proves). Fails on any crash: the input that crashed is kept under fuzz/artifacts/
# and becomes a regression test.
#
#   scripts/fuzz.sh                              # as CI runs it: about a minute in all
#   SECRETSTORE_FUZZ_SECONDS=600 scripts/fuzz.sh # a longer run (seconds for all targets)
#   scripts/fuzz.sh dotenv                       # one target
#
# Needs the nightly toolchain (libFuzzer's instrumentation); cargo-fuzz is installed
# into target/cargo-fuzz the first time. The corpus grows in target/fuzz/corpus, seeded
# from the small committed one in fuzz/seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(names dotenv envfile_roundtrip fernet http)
[ $# -gt 0 ] && TARGETS=("$@")
TOTAL=${SECRETSTORE_FUZZ_SECONDS:-60}
EACH=$(( TOTAL / ${#TARGETS[@]} ))
[ "$EACH" -ge 1 ] || EACH=1
ROOT=$PWD
export CARGO_TARGET_DIR=$ROOT/target/fuzz

log() { printf '== %s\n' "$*" >&2; }

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "installing the nightly toolchain (libFuzzer's instrumentation needs it)"
  rustup toolchain install nightly --profile minimal >&2
fi
FUZZ=$ROOT/target/cargo-fuzz/bin/cargo-fuzz
if [ "$("$FUZZ" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION into target/cargo-fuzz"
  cargo install -q cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$ROOT/target/cargo-fuzz" >&2
fi

export PATH="$ROOT/target/cargo-fuzz/bin:$PATH"

# The instrumented build without a sanitizer (the product forbids unsafe code), with
# debug assertions and overflow checks on.
FLAGS=(--sanitizer none --debug-assertions)
cd fuzz
log "building the fuzz targets (nightly)"
cargo +nightly fuzz build "${FLAGS[@]}" >&2

failed=()
summary=()
for t in "${TARGETS[@]}"; do
  corpus=$CARGO_TARGET_DIR/corpus/$t
  mkdir -p "$corpus" "seeds/$t"
  log "fuzzing $t for ${EACH}s"
  out=$(mktemp)
  if cargo +nightly fuzz run "${FLAGS[@]}" "$t" "$corpus" "seeds/$t" -- \
      -max_total_time="$EACH" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 >"$out" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$out" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*$')
    units=$(find "$corpus" -type f | wc -l)
    summary+=("$t: ${runs:-?} inputs in ${EACH}s, coverage ${cov:-?} edges, corpus $units, no crash")
  else
    failed+=("$t")
    tail -40 "$out" >&2
    summary+=("$t: CRASH (the input is under fuzz/artifacts/$t/; cargo fuzz fmt $t <file> shows it)")
  fi
  rm -f "$out"
done

log "fuzzing, ${TOTAL}s in all:"
for s in "${summary[@]}"; do printf '   %s\n' "$s" >&2; done
if [ ${#failed[@]} -gt 0 ]; then
  log "crashes in: ${failed[*]}"
  exit 1
fi
