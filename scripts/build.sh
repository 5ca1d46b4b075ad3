#!/usr/bin/env bash
# Configures and builds camscope into ./build (Release, ccache when available).
#   bash scripts/build.sh [CONFIGURE_ARGS...] [-- BUILD_ARGS...]
# Arguments before `--` go to the configure step (e.g. -DCAMSCOPE_PYTHON=OFF), those after it to
# `cmake --build` (e.g. `-- --target camscope`: the demo builds only the CLI). Without arguments
# everything is built (the tests, the benchmark, the Python module when pybind11 is found).
set -euo pipefail
cd "$(dirname "$0")/.."
configure_args=()
build_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then
    shift
    build_args=("$@")
    break
  fi
  configure_args+=("$1")
  shift
done
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
# Paths under the checkout hash as relative ones: another clone of the repo hits the same cache.
export CCACHE_BASEDIR="$PWD"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${configure_args[@]+"${configure_args[@]}"} >/dev/null
cmake --build build -j"$(nproc)" ${build_args[@]+"${build_args[@]}"}
