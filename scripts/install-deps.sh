#!/usr/bin/env bash
# Installs what camscope needs to build, test and run on Debian 12 (bookworm). Idempotent.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(
  build-essential cmake pkg-config ccache
  libtorch-dev            # LibTorch 1.13 (CPU)
  libopenblas0-pthread    # without it torch falls back to the slow reference BLAS
  libcli11-dev nlohmann-json3-dev libcairo2-dev libstb-dev zlib1g-dev fonts-dejavu-core
  libturbojpeg0-dev       # JPEG decoding (stb_image 2.27 only decodes PNG here: its JPEG decoder has known bugs)
  libgtest-dev
  libcpp-httplib-dev      # camscope serve (header-only HTTP server)
  libfaiss-dev            # k-means and nearest neighbours (failure modes)
  chromium                # the explorer's browser tests (headless, driven by playwright-core)
  clang libclang-rt-14-dev  # libFuzzer + sanitizer runtimes for scripts/fuzz.sh (GCC's ASan comes with g++)
  dataset-fashion-mnist   # real data for the demo (/usr/share/datasets/fashion-mnist)
  pybind11-dev python3-pybind11 python3-torch python3-numpy python3-pil  # the Python package (camscope._camscope)
  python3-pytest python3-nbclient python3-nbformat python3-ipykernel python3-ipywidgets  # its tests and the notebook
  python3-torchvision python3-pandas  # from_torch on torchvision models; tables as DataFrames (tests)
  python3-scipy           # independent references in tests (intervals, rank correlations)
  python3-venv python3-setuptools python3-pip  # the install test: pip install into a venv, as the README says
  # (python3-numpy above) tests read the analysis store with NumPy (tests/cli/test_store.cpp, tests/slurm/)
  slurm-wlm munge         # tests/slurm/slurm_array.sh: a real single-node Slurm runs the sharded analysis
)
# Node and npm for the browser tests; a node from elsewhere (nvm, NodeSource) is used as it is,
# since Debian's nodejs/npm would conflict with it.
if ! command -v node >/dev/null 2>&1; then PKGS+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then PKGS+=(npm); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) echo "BLAS: $blas" ;;
  *) echo "warning: libblas.so.3 is $blas, not OpenBLAS: torch will be slow" >&2 ;;
esac
# playwright-core for the browser tests (pinned by tests/browser/package-lock.json; it drives the
# chromium above, no browser download).
browser_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ] || [ "$browser_tests/package-lock.json" -nt "$browser_tests/node_modules" ]; then
  npm ci --prefix "$browser_tests" --no-audit --no-fund --loglevel=error
fi
