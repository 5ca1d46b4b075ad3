#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite (CTest + GoogleTest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export OMP_WAIT_POLICY=PASSIVE
cd build && ctest --output-on-failure --timeout 600
