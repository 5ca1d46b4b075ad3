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
  libgtest-dev
  dataset-fashion-mnist   # real data for the demo (/usr/share/datasets/fashion-mnist)
)
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
