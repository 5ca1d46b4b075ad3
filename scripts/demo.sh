#!/usr/bin/env bash
# The demo from nothing: install dependencies, build, train the built-in CNN on Fashion-MNIST and
# write the full report to ./camscope-demo/report/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/camscope demo --out camscope-demo "$@"
