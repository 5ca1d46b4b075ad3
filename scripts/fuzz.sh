#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, torch-free core only) into ./build-fuzz and
# runs each for SECONDS (default 15) from seeds made out of the fixtures and tests/malformed/.
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]
# Findings (crashing inputs) go to build-fuzz/artifacts/<target>/; the script exits 1 if any.
# Once fixed, a finding is committed to tests/fuzz_regressions/<target>/ and replayed every run.
# scripts/test.sh runs it briefly; docs/reliability.md ("History") gives the figures of a longer session.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-15}"
shift || true
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(fuzz_cifar fuzz_idx fuzz_idx_gz fuzz_image_decode fuzz_model_metadata fuzz_serve_request fuzz_results fuzz_store)
B=build-fuzz
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
# Paths under the checkout hash as relative ones: another clone of the repo hits the same cache.
export CCACHE_BASEDIR="$PWD"
CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DCAMSCOPE_FUZZ=ON \
  -DCAMSCOPE_BUILD_TESTS=OFF -DCAMSCOPE_BUILD_BENCH=OFF >/dev/null
cmake --build "$B" -j"$(nproc)" --target make_seeds "${TARGETS[@]}"
rm -rf "$B/seeds"
"$B/fuzz/make_seeds" . "$B/seeds"

status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
  log="$B/$t.log"
  # Inputs that once crashed a target (tests/fuzz_regressions/<target>/) are seeds too, so every
  # run replays them first.
  regress=()
  [ -d "tests/fuzz_regressions/$t" ] && regress=("tests/fuzz_regressions/$t")
  # -rss_limit_mb: a bounded reader never needs more; -timeout: one input must not take 10 s.
  if ! "$B/fuzz/$t" "$B/corpus/$t" "$B/seeds/$t" "${regress[@]}" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t/" >"$log" 2>&1; then
    echo "$t: FAILED (see $log and $B/artifacts/$t/)"
    grep -m5 -E "ERROR|SUMMARY|runtime error" "$log" || true
    status=1
    continue
  fi
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 || true)
  echo "$t: ${SECONDS_PER_TARGET}s, $runs executions, $cov, corpus $(ls "$B/corpus/$t" | wc -l) files, no findings"
done
exit $status
