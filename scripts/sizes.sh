#!/usr/bin/env bash
# Code size and stack of the artefacts embedded, WASM and C users ship (x86_64 and
# aarch64), against the budgets in sizes.txt: prints a table and fails when one is past
# its budget by more than 5%. Builds the C libraries and the wasm module as
# scripts/test.sh does (a no-op after it), and needs qemu-system-arm for the Cortex-M
# figures.
#   bash scripts/sizes.sh            # measure and check
#   bash scripts/sizes.sh --write    # measure and rewrite sizes.txt's budgets
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --release -p rope-simd-capi
# The JavaScript package's module (simd128, symbols stripped).
bash js/build.sh
wasm=target/js/rope_simd.wasm
cargo build -q --release --example every_entry
# The whole no_std ABI, its error details included (the C firmware below goes without).
cargo build -q -p rope-simd-capi --no-default-features --features panic-handler,error-detail --profile release-nostd \
  --target x86_64-unknown-linux-gnu
# The aarch64 C library (the NEON kernels' code), as scripts/test.sh builds it.
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  cargo build -q --release -p rope-simd-capi --target aarch64-unknown-linux-gnu

declare -A got
got[c_library_text]=$(size -A target/release/librope_simd_c.so | awk '$1 == ".text" { print $2 }')
got[c_library_nostd_text]=$(size -A target/x86_64-unknown-linux-gnu/release-nostd/librope_simd_c.so |
  awk '$1 == ".text" { print $2 }')
got[c_library_aarch64_text]=$(size -A target/aarch64-unknown-linux-gnu/release/librope_simd_c.so |
  awk '$1 == ".text" { print $2 }')
got[rust_every_entry]=$(python3 scripts/symbols.py target/release/examples/every_entry 0 |
  sed -n 's/.* \([0-9]*\) in rope_simd$/\1/p')
got[wasm_simd128_module]=$(stat -c %s "$wasm")

# The on-the-fly angle loop must be inlined into each ISA's entry point (`trig.rs`,
# `cos_sin_batch`): out of line it would run without the ISA's features, and slower.
for lib in target/release/librope_simd_c.so target/x86_64-unknown-linux-gnu/release-nostd/librope_simd_c.so; do
  if nm -C "$lib" | grep -qE 'rope_simd::trig::(batch|cos_sin_batch)'; then
    echo "$lib: the angle loop (trig::cos_sin_batch) was left out of line"; exit 1
  fi
done

# The firmware: code of one f32 rotation (the program with it minus the program without
# rope-simd), then the stack of each call, from the full program under QEMU.
text() { size -A "$1" | awk '$1 == ".text" || $1 == ".rodata" { s += $2 } END { print s }'; }
fw=firmware/target/thumbv7em-none-eabihf/release/rope-simd-firmware
(cd firmware && cargo build -q --release --features no-rope) && base=$(text "$fw")
(cd firmware && cargo build -q --release --features one-rotation) && one=$(text "$fw")
got[cortex_m4_one_rotation_code]=$((one - base))
(cd firmware && cargo build -q --release)
out=$(cd firmware && timeout 60 cargo run -q --release 2>&1)
echo "$out" | sed 's/^/  firmware> /'
grep -q "firmware: ok" <<<"$out" || { echo "the firmware run failed"; exit 1; }
got[cortex_m4_stack_build]=$(sed -n 's/.*build a Rope \([0-9]*\) bytes.*/\1/p' <<<"$out")
got[cortex_m4_stack_rotate]=$(sed -n 's/.*rotate f32 in place \([0-9]*\) bytes.*/\1/p' <<<"$out")
got[cortex_m4_stack_into_f16]=$(sed -n 's/.*into an f16 cache \([0-9]*\) bytes.*/\1/p' <<<"$out")

# The C firmware on the no_std C library: its flash, and the stack of rope_create.
cout=$(bash firmware/c/run.sh 2>&1)
echo "$cout" | grep -E "firmware \(C\)>|C firmware" | sed 's/^/  /'
got[c_firmware_flash]=$(sed -n 's/^C firmware: \([0-9]*\) bytes of flash.*/\1/p' <<<"$cout")
got[c_firmware_stack_create]=$(sed -n 's/.*stack: rope_create bytes \([0-9]*\).*/\1/p' <<<"$cout" | head -1)

if [[ ${1:-} == --write ]]; then
  { sed -n '/^#/p' sizes.txt
    for k in "${!got[@]}"; do
      goal=$(awk -v k="$k" '$1 == k { print $3 }' sizes.txt)
      echo "$k ${got[$k]} ${goal:--}"
    done | sort; } >sizes.txt.new && mv sizes.txt.new sizes.txt
fi

status=0
printf '%-30s %10s %10s %10s\n' artefact bytes budget goal
while read -r name budget goal; do
  [[ $name == \#* || -z $name ]] && continue
  v=${got[$name]:?"$name was not measured"}
  flag=""
  if ((v * 100 > budget * 105)); then flag="  OVER BUDGET (+5% allowed)"; status=1; fi
  if [[ $goal != - ]] && ((v > goal)); then flag="$flag  (goal not met)"; fi
  printf '%-30s %10s %10s %10s%s\n' "$name" "$v" "$budget" "$goal" "$flag"
done <sizes.txt
exit $status
