#!/usr/bin/env bash
# Every test of rope-simd, on a fresh Debian machine with rustup and Node.js:
#   formatting, clippy, docs, a check with the declared minimum Rust (rust-version), the
#   x86_64 suite (scalar, lanes, AVX2, AVX-512 where the CPU has them), no_std builds
#   (thumbv7em, wasm32), the suite on aarch64 under qemu-user and on wasm32-wasip1
#   (simd128) under Node.js, a Cortex-M4 firmware under QEMU (bits, stack), every x86_64
#   backend with AVX-512 and AVX512_BF16 on a bare-metal machine Bochs emulates, the code-size
#   budgets (sizes.txt), and the main example.
# It installs what it needs (rustup targets and components, Debian packages) first.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%T)"; }

# Disk: a full run in a fresh clone writes about 4.5 GB under target/ and fuzz/target/
# (5.8 GB with the test builds' full debug information; line tables are enough for a
# backtrace). A run that stops with "No space left on device" shows how much there was at
# the start, and the last step prints what it wrote.
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
echo "disk: $((free_kb / 1024 / 1024)) GiB free where the run writes ($(pwd))"
if ((free_kb < 6 * 1024 * 1024)); then
  echo "WARNING: under 6 GiB free; the run writes about 4.5 GB"
fi

step "prerequisites"
rustup component add clippy rustfmt >/dev/null 2>&1 || true
rustup target add aarch64-unknown-linux-gnu wasm32-wasip1 wasm32-unknown-unknown thumbv7em-none-eabihf
need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v chromium >/dev/null || need+=(chromium)
command -v tsc >/dev/null || need+=(node-typescript)
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[[ -d /usr/aarch64-linux-gnu/lib ]] || need+=(libc6-dev-arm64-cross)
# The BIOS images and the boot loader of the bare-metal x86_64 program under Bochs
# (firmware/x86_64/run.sh; it builds Bochs itself).
bare=()
for p in bochsbios vgabios grub-pc-bin grub-common mtools xorriso; do
  dpkg -s "$p" >/dev/null 2>&1 || bare+=("$p")
done
if ((${#need[@]} + ${#bare[@]})); then
  SUDO=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  if ((${#need[@]})); then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ((${#bare[@]})); then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${bare[@]}" >/dev/null
  fi
fi
command -v node >/dev/null || { echo "Node.js is needed for the wasm32 tests"; exit 1; }
command -v npm >/dev/null || { echo "npm is needed to pack the JavaScript package"; exit 1; }

step "format, lint, docs"
cargo fmt --all -- --check
(cd firmware && cargo fmt -- --check && cargo clippy -q --release -- -D warnings)
(cd firmware/x86_64 && cargo fmt -- --check && cargo clippy -q --release -- -D warnings)
cargo clippy --workspace --exclude rope-simd-peers --all-targets -- -D warnings
cargo clippy -p rope-simd -p rope-simd-benches --all-targets \
  --features rope-simd/rayon,rope-simd/serde,rope-simd-benches/rayon -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features serde
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p rope-simd-capi
# The C ABI's no_std, no-alloc build lints too (the firmware's library).
cargo clippy -p rope-simd-capi --no-default-features --features panic-handler \
  --target thumbv7em-none-eabihf -- -D warnings 2>&1 | { grep -v "dropping unsupported crate type" || true; }

step "MSRV: the rust-version in Cargo.toml checks (host, aarch64, wasm32 simd128, no_std)"
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
rustup toolchain install "$msrv" --profile minimal >/dev/null
rustup target add --toolchain "$msrv" aarch64-unknown-linux-gnu wasm32-unknown-unknown >/dev/null
cargo +"$msrv" check -q --workspace --exclude rope-simd-peers --all-targets --target-dir target/msrv
cargo +"$msrv" check -q -p rope-simd -p rope-simd-benches --all-targets \
  --features rope-simd/rayon,rope-simd/serde,rope-simd-benches/rayon --target-dir target/msrv
cargo +"$msrv" check -q --target aarch64-unknown-linux-gnu --target-dir target/msrv
RUSTFLAGS="-C target-feature=+simd128" \
  cargo +"$msrv" check -q --no-default-features --target wasm32-unknown-unknown --target-dir target/msrv
echo "rust $msrv: ok"

step "no_std builds (no default features: no std, no alloc)"
cargo build --no-default-features --target thumbv7em-none-eabihf
cargo build --no-default-features --features serde --target thumbv7em-none-eabihf
cargo build --no-default-features --target wasm32-unknown-unknown
RUSTFLAGS="-C target-feature=+simd128" cargo build --no-default-features --target wasm32-unknown-unknown

step "x86_64 tests (debug, then release)"
cargo test --features serde
cargo test --no-default-features --lib
cargo test --features rayon --test parallel
cargo test --features rayon --doc par_apply
cargo test --release --features serde -- --nocapture 2>&1 | grep -E "backends on this machine|fingerprint|test result" | sort | uniq -c
if ! grep -qw avx512f /proc/cpuinfo || ! grep -qw avx512bw /proc/cpuinfo; then
  echo "NOTE: this CPU lacks AVX-512F/BW: the AVX-512 kernels were compiled and linted, not run"
fi

step "the published package: cargo package, unpack it elsewhere, run its tests"
cargo package -p rope-simd --no-verify --allow-dirty -q
# A fixed place outside the workspace: the test binaries keep CARGO_MANIFEST_DIR, and the
# shared target directory would reuse them from another path.
pkg_dir="${TMPDIR:-/tmp}/rope-simd-package-test"
rm -rf "$pkg_dir" && mkdir -p "$pkg_dir"
tar -xzf target/package/rope-simd-*.crate -C "$pkg_dir"
(cd "$pkg_dir"/rope-simd-* && CARGO_TARGET_DIR="$OLDPWD/target/package-test" \
  cargo test -q --features serde >"$OLDPWD/target/package-tests.log" 2>&1) ||
  { tail -n 60 target/package-tests.log; echo "the packaged crate's tests failed"; exit 1; }
echo "packaged crate: $(grep -c 'test result: ok' target/package-tests.log) test binaries passed"
rm -rf "$pkg_dir" target/package-test

step "Miri, started in the background (one core for 6-10 minutes; results below, before fuzzing)"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup +nightly component add miri rust-src >/dev/null
(
  cargo +nightly miri setup >/dev/null &&
    timeout 900 cargo +nightly miri test --lib --test bad_input --test backends --test fused
) >target/miri.log 2>&1 &
miri_pid=$!

step "AVX-512 under Bochs, started in the background (building Bochs, then a minute on one core; results below, before Miri's)"
# Neither this CPU nor QEMU need have AVX-512: Bochs's Sapphire Rapids model runs every
# x86_64 backend bare-metal against the scalar one, and the fingerprint (firmware/x86_64).
bash firmware/x86_64/run.sh >target/bochs-avx512.log 2>&1 &
bochs_pid=$!
trap 'kill "$miri_pid" "$bochs_pid" 2>/dev/null || true' EXIT

step "C ABI: header up to date, C test against the static and the shared library"
cargo test -p rope-simd-capi
# Without `error-detail` a failure's message is its code's summary.
cargo test -q -p rope-simd-capi --no-default-features --features std --lib
cargo build --release -p rope-simd-capi
CFLAGS="-std=c99 -pedantic -Wall -Wextra -Werror -O2 -Iinclude"
cc $CFLAGS tests/c/test_capi.c target/release/librope_simd_c.a -lm -lpthread -ldl -o target/test_capi_static
./target/test_capi_static
cc $CFLAGS tests/c/test_capi.c -Ltarget/release -lrope_simd_c -Wl,-rpath,"$PWD/target/release" -lm -o target/test_capi_shared
./target/test_capi_shared
cc $CFLAGS examples/c/decode_loop.c target/release/librope_simd_c.a -lm -lpthread -ldl -o target/decode_loop
./target/decode_loop

step "no_std C library (panic = abort, no allocation): a C program on a Cortex-M4 under QEMU; the wasm32 static library"
bash firmware/c/run.sh
for target in wasm32-unknown-unknown; do
  cargo build -q -p rope-simd-capi --no-default-features --features panic-handler \
    --profile release-nostd --target "$target" 2>&1 | grep -v "dropping unsupported crate type" || true
  ls -l "target/$target/release-nostd/librope_simd_c.a"
done

step "JavaScript: the typed ES module over the wasm module (simd128, and scalar) in Node's test runner and in headless Chromium; npm pack"
bash js/build.sh
cargo build -q --release -p rope-simd-capi --target wasm32-unknown-unknown --target-dir target/wasm-scalar
node --test tests/js/test_module.mjs tests/js/property.mjs
ROPE_SIMD_WASM=target/wasm-scalar/wasm32-unknown-unknown/release/rope_simd_c.wasm \
  node --test tests/js/test_module.mjs tests/js/property.mjs
node tests/js/run_browser.mjs
# The package's type declarations type-check.
tsc --noEmit --strict --lib es2020,dom js/rope-simd.d.ts
node examples/js/decode.mjs
# The packed tarball installs and imports (in a scratch project, offline).
rm -rf target/js-install && mkdir -p target/js-install
(cd target/js && npm pack --silent --pack-destination ../js-install >/dev/null)
(cd target/js-install && npm init -y >/dev/null && npm install --offline --no-audit --no-fund ./rope-simd-0.1.0.tgz >/dev/null &&
  node --input-type=module -e "
    import { loadRopeSimd } from 'rope-simd';
    const rs = await loadRopeSimd(new URL('./node_modules/rope-simd/rope_simd.wasm', 'file://' + process.cwd() + '/'));
    const q = new Float32Array(2 * 64).fill(1);
    rs.createRope({ headDim: 64 }).rotate(q, { heads: 2, positions: 5 });
    if (q[0] === 1) throw new Error('not rotated');
    console.log('npm package: installed and imported, backend ' + rs.bestBackend);")

step "sizes: code and stack against sizes.txt (C library on x86_64 and aarch64, Rust program, wasm module, Cortex-M4 firmware under QEMU)"
bash scripts/sizes.sh

step "aarch64 tests under qemu-user: every test on a CPU with FEAT_BF16 (-cpu max), the backend tests on one without (cortex-a72)"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
QEMU_CPU=max cargo test --release --target aarch64-unknown-linux-gnu -- --nocapture 2>&1 |
  tee target/aarch64-tests.log | grep -E "backends on this machine|fingerprint|test result|FAILED|panicked"
grep -q "backends on this machine: .*NeonBf16" target/aarch64-tests.log ||
  { echo "qemu -cpu max: NeonBf16 was not detected"; exit 1; }
QEMU_CPU=cortex-a72 cargo test --release --target aarch64-unknown-linux-gnu \
  --lib --test backends --test determinism --test bad_input -- --nocapture 2>&1 |
  tee target/aarch64-a72-tests.log | grep -E "backends on this machine|fingerprint|test result|FAILED|panicked"
if grep -q "backends on this machine: .*NeonBf16" target/aarch64-a72-tests.log; then
  echo "qemu -cpu cortex-a72: NeonBf16 detected on a CPU without FEAT_BF16"; exit 1
fi

step "C ABI on aarch64 under qemu-user, with FEAT_BF16 and without (the AVX backends, and NeonBf16 on the second, refused)"
cargo build --release -p rope-simd-capi --target aarch64-unknown-linux-gnu
aarch64-linux-gnu-gcc $CFLAGS tests/c/test_capi.c \
  target/aarch64-unknown-linux-gnu/release/librope_simd_c.a -lm -lpthread -ldl -o target/test_capi_aarch64
qemu-aarch64 -L /usr/aarch64-linux-gnu target/test_capi_aarch64
QEMU_CPU=cortex-a72 qemu-aarch64 -L /usr/aarch64-linux-gnu target/test_capi_aarch64

step "wasm32-wasip1 (+simd128) tests under Node.js"
CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings .ci/wasi-run.mjs" \
CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C target-feature=+simd128" \
  cargo test --release --target wasm32-wasip1 -- --test-threads=1 --nocapture 2>&1 |
  tee target/wasm32-tests.log | grep -E "backends on this machine|fingerprint|test result|FAILED|panicked"

step "fuzz targets built (cargo-fuzz installed if missing) while Miri finishes"
# --debug: the tool only drives cargo, and its debug build takes 30 s where release takes 48.
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --debug
(cd fuzz && cargo +nightly fuzz build -O)

step "AVX-512 under Bochs (results)"
wait "$bochs_pid" && bochs_rc=0 || bochs_rc=$?
cat target/bochs-avx512.log
((bochs_rc == 0)) || { echo "the AVX-512 run under Bochs failed (exit $bochs_rc)"; exit 1; }

step "Miri: undefined-behaviour checks of the scalar and portable kernels and validation (results)"
wait "$miri_pid" && miri_rc=0 || miri_rc=$?
grep -E "^(test result|test .* FAILED|error)|panicked" target/miri.log || true
if ((miri_rc != 0)); then
  tail -n 60 target/miri.log
  echo "Miri failed (exit $miri_rc)"
  exit 1
fi

step "fuzzing: each target 60 s from the committed corpus and seeds, the three side by side (a crash fails; save it in fuzz/regressions/)"
# New inputs go to a scratch directory, so that the committed corpus changes only through
# a campaign (scripts/fuzz_campaign.sh, fuzz/README.md).
fuzz_pids=()
for target in rotate capi config; do
  rm -rf "target/fuzz-new/$target" && mkdir -p "target/fuzz-new/$target"
  (cd fuzz && cargo +nightly fuzz run -O "$target" "../target/fuzz-new/$target" "corpus/$target" \
    "seeds/$target" -- -max_total_time=60 -print_final_stats=1 >"../target/fuzz-$target.log" 2>&1) &
  fuzz_pids+=($!)
done
fuzz_failed=0
for pid in "${fuzz_pids[@]}"; do wait "$pid" || fuzz_failed=1; done
for target in rotate capi config; do
  echo "fuzz $target:"
  grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)|crash-|panicked" \
    "target/fuzz-$target.log" || true
done
if ((fuzz_failed)); then
  tail -n 40 target/fuzz-rotate.log target/fuzz-capi.log target/fuzz-config.log
  echo "fuzzing failed"
  exit 1
fi

step "main example"
cargo run --release --example llama_step

step "final x86_64 run"
cargo test --release --features serde
echo "disk used by the run: $(du -sh target fuzz/target 2>/dev/null | awk '{print $1}' | paste -sd' ')"
