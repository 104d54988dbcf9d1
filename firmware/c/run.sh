#!/usr/bin/env bash
# Builds firmware/c/main.c against the no_std C library for thumbv7em-none-eabihf, runs
# it under QEMU (mps2-an386, semihosting), then checks that a build expecting a wrong
# hash (-DPLANT_WRONG) fails. Prints the program's flash size (code + read-only data).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q -p rope-simd-capi --no-default-features --features panic-handler \
  --profile release-nostd --target thumbv7em-none-eabihf 2>&1 | grep -v "dropping unsupported crate type" || true
lib=target/thumbv7em-none-eabihf/release-nostd/librope_simd_c.a
cflags=(-std=c99 -Wall -Wextra -Werror -Os -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
  -ffreestanding -ffunction-sections -fdata-sections -Iinclude)
ldflags=(-nostdlib -nostartfiles -Wl,--gc-sections -Wl,-z,noexecstack -T firmware/link.x)
out=target/firmware-c
mkdir -p "$out"
qemu=(qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none
  -semihosting-config enable=on,target=native -kernel)
arm-none-eabi-gcc "${cflags[@]}" firmware/c/main.c "${ldflags[@]}" "$lib" -lgcc -o "$out/firmware.elf"
timeout 60 "${qemu[@]}" "$out/firmware.elf" 2>&1 | sed 's/^/  firmware (C)> /'
flash=$(arm-none-eabi-size -A "$out/firmware.elf" | awk '$1 == ".text" || $1 == ".rodata" || $1 == ".vector_table" { s += $2 } END { print s }')
echo "C firmware: $flash bytes of flash (code and read-only data, the library's share included)"
arm-none-eabi-gcc "${cflags[@]}" -DPLANT_WRONG firmware/c/main.c "${ldflags[@]}" "$lib" -lgcc -o "$out/planted.elf"
if timeout 60 "${qemu[@]}" "$out/planted.elf" >/dev/null 2>&1; then
  echo "the firmware passed with a wrong hash planted: its check cannot fail"
  exit 1
fi
echo "C firmware: a planted wrong hash fails, as it must"
