#!/usr/bin/env bash
# Builds Bochs 3.0 into target/bochs-3.0/bochs (once; later runs reuse it) and prints its
# path: the emulator run.sh boots the program in. Not Debian's package (2.7): 3.0 models
# Sapphire Rapids, which has AVX512_BF16, and its `vcvtps2ph` rounds ties to even as
# hardware does (2.7's rounds them away from even). The source is Debian's (trixie's
# bochs_3.0+dfsg), checked against the SHA-256 of trixie's Sources index, with one fix:
# 3.0's VCVTNE2PS2BF16 fills the upper half of the result from the first source's
# elements 16..31 (past a 512-bit register) instead of 0..15; the fix reads 0..15, as the
# instruction is specified (Intel SDM) and as hardware ran this crate's kernels. Built
# headless, without the debugger, plugins or sound: a few minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")"
dir=target/bochs-3.0
if [[ -x $dir/bochs ]]; then
  echo "$PWD/$dir/bochs"
  exit 0
fi
tarball=bochs_3.0+dfsg.orig.tar.xz
sha256=78f6c73d4a6472d5130a87ab9dc306d02c7c71ed8e25b3a8ef642e2a7acd282b
mkdir -p target
curl -fsSL --retry 3 "http://deb.debian.org/debian/pool/main/b/bochs/$tarball" -o "target/$tarball"
echo "$sha256  target/$tarball" | sha256sum -c --quiet
rm -rf "$dir" && tar -xf "target/$tarball" -C target
src=$dir/cpu/avx/avx512_bf16.cc
wrong='convert_ne_fp32_to_bfloat16(op1.vmm32u(n));'
right='convert_ne_fp32_to_bfloat16(op1.vmm32u(n - DWORD_ELEMENTS(len)));'
grep -qF "$wrong" "$src" || { echo "bochs.sh: the VCVTNE2PS2BF16 line to fix is not in $src" >&2; exit 1; }
WRONG=$wrong RIGHT=$right perl -pi -e 's/\Q$ENV{WRONG}\E/$ENV{RIGHT}/' "$src"
grep -qF "$right" "$src" || { echo "bochs.sh: fixing $src failed" >&2; exit 1; }
(cd "$dir" && CFLAGS=-O2 CXXFLAGS=-O2 ./configure -q --enable-x86-64 --enable-avx --enable-evex \
  --enable-all-optimizations --with-nogui --without-x11 --without-sdl2 --without-term \
  --without-wx >/dev/null && make -s -j"$(nproc)" >/dev/null 2>&1) ||
  { echo "bochs.sh: building Bochs failed" >&2; exit 1; }
echo "$PWD/$dir/bochs"
