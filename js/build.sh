#!/usr/bin/env bash
# Builds the npm package's directory, target/js: the simd128 wasm module of the C ABI,
# the ES module, its type declarations, package.json and README. `npm pack` there makes
# an installable tarball (not published).
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="-C target-feature=+simd128 -C strip=symbols" \
  cargo build -q --release -p rope-simd-capi --target wasm32-unknown-unknown --target-dir target/wasm-simd128
mkdir -p target/js
cp target/wasm-simd128/wasm32-unknown-unknown/release/rope_simd_c.wasm target/js/rope_simd.wasm
cp js/rope-simd.mjs js/rope-simd.d.ts js/package.json js/README.md target/js/
