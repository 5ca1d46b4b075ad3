#!/usr/bin/env bash
# The demo from nothing: install dependencies, build the camscope CLI (only the target the demo
# runs: not the tests, the benchmark or the Python module), train the built-in CNN on Fashion-MNIST
# and write the full report to ./camscope-demo/report/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -- --target camscope
./build/camscope demo --out camscope-demo "$@"
