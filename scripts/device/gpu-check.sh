#!/usr/bin/env bash
# The GPU check (issue 12, part 5), run on a lent GPU machine by the `device` tool from the repo root:
# builds camscope against that machine's pip torch (CUDA LibTorch) with the dependencies carried in
# .gpu/ (scripts/device/bundle-deps.sh), then runs the engine tests on the GPU, the CLI on the GPU
# against the CPU, the benchmark rows and the full analyze on the GPU, and the CPU test suite against
# the newer LibTorch. Logs go to $OUT (at most 8 files).
# Usage: PHASES="build engine cli bench analyze ctest debug" bash scripts/device/gpu-check.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
PHASES=${PHASES:-build engine cli bench analyze ctest}
G=$PWD/.gpu; T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
on() { [[ " $PHASES " == *" $1 "* ]]; }
{
  el probe; nvidia-smi -L; nproc; gcc --version | head -1; cmake --version | head -1; ninja --version
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0)); print(torch.utils.cmake_prefix_path)'
} > "$OUT/configure.log" 2>&1
TP=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# Carried libraries only where the machine lacks that soname: its own newer ones win.
mkdir -p "$G/rt"
for f in "$G"/usr/lib/x86_64-linux-gnu/*.so.*; do
  n=$(basename "$f"); ldconfig -p | awk '{print $1}' | grep -qxF "$n" || ln -sf "$f" "$G/rt/$n"
done
echo "carried at run time: $(ls "$G/rt" | tr '\n' ' ')" >> "$OUT/configure.log"
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$G/usr/lib/x86_64-linux-gnu" "$G/bin/pkgconf" > "$G/bin/pkg-config"
chmod +x "$G/bin/pkg-config"
export PKG_CONFIG_PATH=$G/pkgconfig PKG_CONFIG_LIBDIR=$G/pkgconfig LD_LIBRARY_PATH=$G/rt FONTCONFIG_FILE=$G/fonts/fonts.conf
export OMP_WAIT_POLICY=PASSIVE
if on build; then
  el configure
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TP;$G/usr" \
    -DPKG_CONFIG_EXECUTABLE="$G/bin/pkg-config" -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$G/usr/lib/x86_64-linux-gnu" \
    >> "$OUT/configure.log" 2>&1 || { el "configure FAILED"; tail -40 "$OUT/configure.log"; exit 1; }
  el build
  timeout 330 cmake --build build-cuda -j "$(nproc)" -- -k 0 > "$OUT/build.log" 2>&1 || { el "build FAILED"; grep -E "error" "$OUT/build.log" | head -30; }
fi
if on ctest; then
  el "cpu test suite against torch $(python3 -c 'import torch;print(torch.__version__)')"
  ( cd build-cuda && timeout 170 ctest -j "$(nproc)" -E "Browser" --timeout 120 --output-on-failure ) > "$OUT/ctest-cpu.log" 2>&1
  grep -E "tests passed|\*\*\*Failed|\*\*\*Exception|Timeout" "$OUT/ctest-cpu.log" | head -30
fi
if on debug; then
  el "backtraces"
  { cuda-gdb -batch -ex run -ex bt --args build-cuda/tests/engine_tests --gtest_filter='EngineTrain.*' 2>&1 | grep -vE "^\[(New|Thread)" | tail -40
    cuda-gdb -batch -ex run -ex bt --args build-cuda/bench/camscope_bench --device cuda --arch resnet20 --batch 8 --quick --no-methods 2>&1 | grep -vE "^\[(New|Thread)" | tail -40
  } > "$OUT/debug.log" 2>&1; tail -80 "$OUT/debug.log"
fi
if on engine; then
  el "engine tests on cuda (TF32 off)"
  ( cd build-cuda && CAMSCOPE_TEST_DEVICE=cuda NVIDIA_TF32_OVERRIDE=0 timeout 150 ./tests/engine_tests --gtest_brief=1 ) > "$OUT/engine-cuda.log" 2>&1
  grep -E "Failure|actual|trace:|test_engine.cpp:1[0-9][0-9]: |FAILED|PASSED" "$OUT/engine-cuda.log" | head -60
fi
if on cli; then
  el "cli on cuda vs cpu"
  bash scripts/device/cli-cuda.sh build-cuda/camscope > "$OUT/cli-cuda.log" 2>&1; tail -14 "$OUT/cli-cuda.log"
fi
if on bench; then
  el "bench rows on cuda"
  timeout 120 build-cuda/bench/camscope_bench --device cuda --arch resnet56 --batch 1,64,256 --quick --rounds 2 > "$OUT/bench-cuda.log" 2>&1; tail -30 "$OUT/bench-cuda.log"
fi
if on analyze; then
  el "full analyze on cuda"
  for b in 256 64; do
    timeout 120 build-cuda/bench/camscope_bench --device cuda --arch resnet56 --batch $b --skip-bench --analyze --rounds 1 >> "$OUT/analyze-cuda.log" 2>&1
  done
  tail -60 "$OUT/analyze-cuda.log"
fi
el done
