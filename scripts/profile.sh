#!/usr/bin/env bash
# Instructions per element of one Llama decode step (Q 32 + K 8 heads, head_dim 128),
# counted by callgrind: our rotation, the hand-written loop and the memory roof pass, for
# each dtype. Valgrind emulates up to AVX2 (no AVX-512), so ours runs on the AVX2 backend
# here. Writes target/profile.md, which scripts/bench_report.py puts into BENCHMARKS.md.
#
#   bash scripts/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { sudo apt-get install -y valgrind 2>/dev/null || apt-get install -y valgrind; }
cargo build --release --example profile_step
bin=target/release/examples/profile_step
iters=200
elements=$(( (32 + 8) * 128 ))

count() { # kind dtype iters -> instructions collected
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

out=target/profile.md
{
  echo "Instructions per element of a decode step (callgrind, $iters steps minus a run of 0;"
  echo "our rotation on the $(valgrind -q "$bin" rope f32 0 2>/dev/null) backend, which is what the CPU valgrind emulates offers):"
  echo
  echo "| dtype | memory roof | rope-simd | naive loop | rope-simd / roof |"
  echo "|---|---|---|---|---|"
  for dtype in f32 f16 bf16; do
    row="| $dtype"
    declare -A per
    for kind in memory rope naive; do
      base=$(count "$kind" "$dtype" 0)
      full=$(count "$kind" "$dtype" "$iters")
      per[$kind]=$(python3 -c "print(f'{($full - $base) / ($iters * $elements):.2f}')")
      row="$row | ${per[$kind]}"
    done
    ratio=$(python3 -c "print(f'{${per[rope]} / ${per[memory]}:.2f}x')")
    echo "$row | $ratio |"
  done
} > "$out"
cat "$out"
