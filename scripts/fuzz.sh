#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer; fuzz/ is a cargo-fuzz project) of every parser of outside input, each
# target for a bounded time (README: "Run the tests"; RELIABILITY.md says what each
# target proves). Fails on any crash: the input that crashed is kept under fuzz/artifacts/
# and becomes a regression test.
#
#   scripts/fuzz.sh                              # as CI runs it: about a minute in all
#   SECRETSTORE_FUZZ_SECONDS=600 scripts/fuzz.sh # a longer run (seconds for all targets)
#   scripts/fuzz.sh dotenv                       # one target
#
# libFuzzer through libfuzzer-sys, built with the stable toolchain and the coverage
# instrumentation cargo-fuzz uses (stable codegen options): no nightly and no cargo-fuzz
# to install. The product forbids unsafe code, so no sanitizer; debug assertions and
# overflow checks are on. The corpus grows in target/fuzz/corpus, seeded from the small
# committed one in fuzz/seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(names dotenv envfile_roundtrip fernet http)
[ $# -gt 0 ] && TARGETS=("$@")
TOTAL=${SECRETSTORE_FUZZ_SECONDS:-60}
EACH=$(( TOTAL / ${#TARGETS[@]} ))
[ "$EACH" -ge 1 ] || EACH=1
ROOT=$PWD
export CARGO_TARGET_DIR=$ROOT/target/fuzz
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')

log() { printf '== %s\n' "$*" >&2; }

log "building the fuzz targets (libFuzzer, coverage-instrumented)"
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
  cargo build --manifest-path fuzz/Cargo.toml --locked --release --bins --target "$TRIPLE" \
  --config 'profile.release.debug="line-tables-only"' >&2
BIN=$CARGO_TARGET_DIR/$TRIPLE/release
cd fuzz

failed=()
summary=()
for t in "${TARGETS[@]}"; do
  corpus=$CARGO_TARGET_DIR/corpus/$t
  mkdir -p "$corpus" "seeds/$t"
  log "fuzzing $t for ${EACH}s"
  out=$(mktemp)
  mkdir -p "artifacts/$t"
  if "$BIN/$t" "$corpus" "seeds/$t" -artifact_prefix="artifacts/$t/" \
      -max_total_time="$EACH" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 >"$out" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$out" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*$')
    units=$(find "$corpus" -type f | wc -l)
    summary+=("$t: ${runs:-?} inputs in ${EACH}s, coverage ${cov:-?} edges, corpus $units, no crash")
  else
    failed+=("$t")
    tail -40 "$out" >&2
    summary+=("$t: CRASH (the input is under fuzz/artifacts/$t/; $BIN/$t <file> runs it again)")
  fi
  rm -f "$out"
done

log "fuzzing, ${TOTAL}s in all:"
for s in "${summary[@]}"; do printf '   %s\n' "$s" >&2; done
if [ ${#failed[@]} -gt 0 ]; then
  log "crashes in: ${failed[*]}"
  exit 1
fi
