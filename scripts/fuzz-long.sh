#!/usr/bin/env bash
# Fuzz for real (RELIABILITY.md, "Fuzzing"): every cargo-fuzz target in fuzz/ for SECONDS each, then the
# TypeScript property fuzzers (*.fuzz.test.ts) with TMESH_FUZZ_RUNS inputs per property and the codecs'
# generated-frame fuzzers (packages/codec-*/fuzz/fuzz.ts) with as many frames. Prints, per
# target, the inputs tried, coverage and crashes; writes nothing into the repository (new corpus units and
# crash inputs go under target/fuzz-work/, which git ignores: copy a crash into fuzz/regressions/<target>/
# once it is fixed). Exit status 1 if any target crashed or any property failed.
#
#   scripts/fuzz-long.sh [SECONDS=300] [target ...]      e.g. scripts/fuzz-long.sh 15   (the CI smoke)
#   TMESH_FUZZ_RUNS=200000 (TS inputs per property; 0 skips the TS part)   FUZZ_TS_ONLY=1 (skip cargo)
#
# Needs the nightly toolchain and cargo-fuzz; installs both when missing (a minute or two).
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-300}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(ring_consume ring_produce region_header rust_frame universal_frame handshake)
TS_RUNS="${TMESH_FUZZ_RUNS:-200000}"
WORK="$(realpath -m "${FUZZ_WORK:-target/fuzz-work}")"
failed=0

if [ "${FUZZ_TS_ONLY:-0}" != 1 ]; then
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz-long: installing the nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal || exit 1
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-long: installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
  fi
  mkdir -p "$WORK"
  echo "fuzz-long: building the fuzz targets (nightly, address sanitizer, debug assertions)"
  (cd fuzz && cargo +nightly fuzz build -O --debug-assertions) >"$WORK/build.log" 2>&1 || {
    tail -40 "$WORK/build.log"
    exit 1
  }
  printf '\n%-16s %8s %12s %10s %6s %7s %8s %8s\n' target seconds inputs "inputs/s" cov features corpus crashes
  for t in "${TARGETS[@]}"; do
    mkdir -p "$WORK/$t" "$WORK/artifacts/$t"
    dirs=("$WORK/$t" "fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
    log="$WORK/$t.log"
    # Absolute paths: cargo fuzz runs in fuzz/. New units go to the first directory only.
    abs=()
    for d in "${dirs[@]}"; do abs+=("$(realpath "$d")"); done
    (cd fuzz && cargo +nightly fuzz run -O --debug-assertions "$t" "${abs[@]}" -- \
      -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$WORK/artifacts/$t/") >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    crashes=$(find "$WORK/artifacts/$t" -type f -newer "$WORK/build.log" | wc -l)
    [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes="rc=$rc"
    printf '%-16s %8s %12s %10s %6s %7s %8s %8s\n' "$t" "$SECONDS_PER_TARGET" "${execs:-?}" "${rate:-?}" \
      "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
    if [ "$rc" -ne 0 ]; then
      failed=1
      grep -E -A3 'panicked|ERROR: |SUMMARY' "$log" | head -20
      echo "  log: $log; crash inputs: $WORK/artifacts/$t/"
    fi
  done
fi

if [ "$TS_RUNS" != 0 ]; then
  mkdir -p "$WORK"
  echo
  echo "fuzz-long: TypeScript property fuzzers, TMESH_FUZZ_RUNS=$TS_RUNS inputs per property"
  mapfile -t files < <(find packages -name node_modules -prune -o -name '*.fuzz.test.ts' -print | sort)
  start=$(date +%s)
  TMESH_FUZZ_RUNS="$TS_RUNS" npx --yes pnpm@12.4.2 exec vitest run --reporter=verbose "${files[@]}" >"${WORK}/ts.log" 2>&1
  status=$?
  grep -E '✓|×|FAIL|Tests  |Test Files|Counterexample' "${WORK}/ts.log"
  echo "TypeScript fuzzers: ${#files[@]} files, $(($(date +%s) - start)) s, exit $status (log: ${WORK}/ts.log)"
  [ "$status" -ne 0 ] && failed=1
  # The codecs' own generated-frame fuzzers (BENCHMARKS.md), with the same count and seed 1.
  for codec in rust swift universal; do
    echo "codec-$codec: npx tsx packages/codec-$codec/fuzz/fuzz.ts $TS_RUNS 1"
    npx tsx "packages/codec-$codec/fuzz/fuzz.ts" "$TS_RUNS" 1 >"$WORK/codec-$codec.log" 2>&1
    status=$?
    head -3 "$WORK/codec-$codec.log" | cut -c1-300
    [ "$status" -ne 0 ] && { failed=1; echo "  codec-$codec fuzzer failed (exit $status): $WORK/codec-$codec.log"; }
  done
fi
exit $failed
