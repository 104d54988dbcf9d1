#!/usr/bin/env bash
# Line coverage of the crate's src/ reached by the committed fuzz corpus: each target
# (rotate, capi, config) is built with coverage instrumentation (`cargo fuzz coverage`)
# and run once over fuzz/corpus/TARGET and fuzz/seeds/TARGET (no fuzzing); the profiles are
# merged and llvm-cov reports the union, per file of src/ (and capi/src/). The `rotate`
# corpus also runs on aarch64 (qemu-user, `-cpu max`: the NEON and FEAT_BF16 kernels), as
# `tests/fuzz_regressions.rs` built with the same instrumentation and `--cfg fuzzing`, so
# that the NEON-only code counts too; a line is reached if either architecture reached it
# (that step needs qemu-user and gcc-aarch64-linux-gnu, which scripts/test.sh installs).
# Writes
# fuzz/COVERAGE.md (the per-file table, the groups the fuzzing issue names, and the lines
# not reached) and target/fuzz-coverage/html/ (llvm-cov's annotated sources).
#
#   bash scripts/fuzz_coverage.sh            # all three targets (a few minutes)
#   bash scripts/fuzz_coverage.sh rotate     # some
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
((${#targets[@]})) || targets=(rotate capi config)
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup +nightly component add llvm-tools-preview >/dev/null 2>&1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
bin=$(rustc +nightly --print sysroot)/lib/rustlib/$(rustc +nightly -vV | sed -n 's/^host: //p')/bin
out=target/fuzz-coverage
rm -rf "$out" && mkdir -p "$out"

objects=()
for t in "${targets[@]}"; do
  # `-runs=0`: execute every input once, fuzz nothing.
  (cd fuzz && cargo +nightly fuzz coverage "$t" "corpus/$t" "seeds/$t" -- -runs=0 \
    >"../$out/$t.log" 2>&1) || { tail -n 30 "$out/$t.log"; exit 1; }
  objects+=("fuzz/target/x86_64-unknown-linux-gnu/coverage/x86_64-unknown-linux-gnu/release/$t")
  cp "fuzz/coverage/$t/coverage.profdata" "$out/$t.profdata"
done
"$bin/llvm-profdata" merge -sparse "$out"/*.profdata -o "$out/all.profdata"

if [[ " ${targets[*]} " == *" rotate "* ]]; then
  rustup +nightly target add aarch64-unknown-linux-gnu >/dev/null 2>&1
  arm=$out/aarch64
  mkdir -p "$arm/raw"
  test_bin=$(RUSTFLAGS="-C instrument-coverage --cfg fuzzing" \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    cargo +nightly test --release --target aarch64-unknown-linux-gnu --target-dir target/fuzz-coverage-aarch64 \
      --test fuzz_regressions --no-run --message-format=json 2>"$arm/build.log" |
    python3 -c 'import json, sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])' | tail -n 1)
  [[ -n $test_bin ]] || { tail -n 30 "$arm/build.log"; exit 1; }
  LLVM_PROFILE_FILE="$PWD/$arm/raw/%p.profraw" ROPE_SIMD_FUZZ_INPUTS=fuzz/corpus/rotate:fuzz/seeds/rotate \
    qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max "$test_bin" >"$arm/run.log" 2>&1 ||
    { tail -n 30 "$arm/run.log"; exit 1; }
  "$bin/llvm-profdata" merge -sparse "$arm"/raw/*.profraw -o "$arm/rotate.profdata"
  "$bin/llvm-cov" export -format=lcov -instr-profile="$arm/rotate.profdata" "$test_bin" \
    >"$out/lcov-aarch64.info"
fi
args=(-instr-profile="$out/all.profdata" "${objects[0]}")
for o in "${objects[@]:1}"; do args+=(-object "$o"); done
# Only this repository's library code (paths relative to it): not the fuzz harness,
# dependencies or std. (llvm-cov warns of functions with mismatched data: generic code
# instantiated differently in the three binaries; each keeps its own counts.)
keep='^(src|capi/src)/'
"$bin/llvm-cov" export -format=lcov "${args[@]}" >"$out/lcov.info"
"$bin/llvm-cov" show -format=html -output-dir="$out/html" \
  -ignore-filename-regex='(\.cargo|rustc|/fuzz/|/library/)' "${args[@]}" >/dev/null
python3 scripts/fuzz_coverage.py "$out" "$keep" "${targets[*]}" "$(git rev-parse --short HEAD)"
