#!/usr/bin/env bash
# Copies the non-torch build dependencies of camscope (headers, libraries, CMake/pkg-config files,
# a font) from this Debian 12 machine into .gpu/ (git-ignored), so that a bare GPU machine with only
# CUDA, a compiler and a pip torch can build camscope against that torch (scripts/device/gpu-check.sh).
# Libraries keep their Debian layout under .gpu/usr, so the CMake config files relocate themselves.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.gpu/usr
rm -rf .gpu && mkdir -p $B/include $B/lib/x86_64-linux-gnu $B/share/cmake .gpu/pkgconfig .gpu/bin .gpu/fonts
inc() { for p in "$@"; do cp -a "/usr/include/$p" "$B/include/"; done; }
inc cairo turbojpeg.h nlohmann CLI stb httplib.h gtest gmock openssl brotli zlib.h zconf.h
cp -a /usr/include/x86_64-linux-gnu/openssl/* $B/include/openssl/ 2>/dev/null || true
mkdir -p $B/include/x86_64-linux-gnu && cp -a /usr/include/x86_64-linux-gnu/openssl $B/include/x86_64-linux-gnu/
L=/usr/lib/x86_64-linux-gnu
cp -a $L/libgtest*.a $L/libgmock*.a $B/lib/x86_64-linux-gnu/
mkdir -p $B/lib/x86_64-linux-gnu/cmake && cp -a $L/cmake/GTest $B/lib/x86_64-linux-gnu/cmake/
cp -a /usr/share/cmake/nlohmann_json $B/share/cmake/
[ -d /usr/share/cmake/CLI11 ] && cp -a /usr/share/cmake/CLI11 $B/share/cmake/ || true
[ -d $L/cmake/CLI11 ] && cp -a $L/cmake/CLI11 $B/lib/x86_64-linux-gnu/cmake/ || true
# Shared libraries: the ones camscope links and everything they need, except the C/C++ runtime
# (the GPU machine's own, newer, is used).
skip='^(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so'
libs=()
for l in libcairo.so.2 libturbojpeg.so.0 libcpp-httplib.so.0.11 libz.so.1 libpkgconf.so.3; do
  libs+=("$L/$l")
  while read -r dep; do libs+=("$dep"); done < <(ldd "$L/$l" | awk '/=>/ {print $3}')
done
for f in $(printf '%s\n' "${libs[@]}" | sort -u); do
  n=$(basename "$f")
  [[ "$n" =~ $skip ]] && continue
  cp -L "$f" "$B/lib/x86_64-linux-gnu/$n"
done
( cd $B/lib/x86_64-linux-gnu && ln -sf libcairo.so.2 libcairo.so && ln -sf libturbojpeg.so.0 libturbojpeg.so &&
  ln -sf libcpp-httplib.so.0.11 libcpp-httplib.so && ln -sf libz.so.1 libz.so )
cp -L /usr/bin/pkgconf .gpu/bin/pkgconf
# pkg-config files without the private requirement chains (headers above are all that is needed).
pc() { cat > ".gpu/pkgconfig/$1.pc" <<PC
prefix=\${pcfiledir}/../usr
Name: $1
Description: carried from Debian 12
Version: $2
Cflags: -I\${prefix}/include $3
Libs: -L\${prefix}/lib/x86_64-linux-gnu $4
PC
}
pc cairo 1.16.0 "-I\${prefix}/include/cairo" "-lcairo"
pc libturbojpeg 2.1.5 "" "-lturbojpeg"
pc cpp-httplib 0.11.4 "-I\${prefix}/include/x86_64-linux-gnu -DCPPHTTPLIB_OPENSSL_SUPPORT -DCPPHTTPLIB_ZLIB_SUPPORT -DCPPHTTPLIB_BROTLI_SUPPORT" "-lcpp-httplib -pthread"
cp -L /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf .gpu/fonts/ 2>/dev/null || true
cat > .gpu/fonts/fonts.conf <<'XML'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir prefix="relative">.</dir><cachedir>/tmp/fc-cache</cachedir></fontconfig>
XML
du -sh .gpu; ls $B/lib/x86_64-linux-gnu | wc -l
