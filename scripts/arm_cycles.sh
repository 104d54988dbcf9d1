#!/usr/bin/env bash
# The aarch64 cycle model (a model estimate: there is no ARM hardware here): builds the
# decode-step probe (examples/profile_step.rs) for aarch64, traces it under qemu-aarch64
# and runs the traces through llvm-mca 19 for Cortex-A55, Cortex-A72, Neoverse N1, V1 and
# N2 (scripts/arm_cycles.py says how). Writes target/arm_cycles.md, which
# scripts/bench_report.py puts into BENCHMARKS.md. About a minute on two cores.
#
#   bash scripts/arm_cycles.sh [backends] [rows]    (default: neon,neonbf16; all rows)
#   HEAD_DIM=256 bash scripts/arm_cycles.sh ...     (another head size: target/arm_cycles.md only)
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v llvm-mca-19 >/dev/null || need+=(llvm-19)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
if ((${#need[@]})); then
  SUDO=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup target add aarch64-unknown-linux-gnu >/dev/null
# Static and not position-independent: the traced addresses are the disassembly's.
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  cargo build -q --release --example profile_step --target aarch64-unknown-linux-gnu \
  --target-dir target/arm-probe
python3 scripts/arm_cycles.py target/arm-probe/aarch64-unknown-linux-gnu/release/examples/profile_step \
  target/arm_cycles.md "${1:-neon,neonbf16}" ${2:+"$2"}
