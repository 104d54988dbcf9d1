#!/usr/bin/env bash
# A fuzzing campaign that accumulates: each target fuzzes for SECONDS from the committed
# corpus (fuzz/corpus/TARGET) and the readable seeds (fuzz/seeds/TARGET), the targets side
# by side (one core each), then what it found is merged back into fuzz/corpus/TARGET,
# minimized (libFuzzer's -merge=1: the smallest set with the same coverage). Commit the
# corpus afterwards; CI fuzzes from it (scripts/test.sh), so each run starts where the last
# campaign stopped. A crash stops the campaign: minimize it into fuzz/regressions/TARGET/
# (`cargo +nightly fuzz tmin`), where `cargo test` replays it.
#   bash scripts/fuzz_campaign.sh 600                # every target, 10 minutes each
#   bash scripts/fuzz_campaign.sh 3600 rotate capi   # some targets
# Prints, per target: executions, executions per second, corpus entries and bytes before
# and after; append them to the campaign log in fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(rotate capi config)

cargo +nightly fuzz build -O
work=target/campaign
rm -rf "$work" && mkdir -p "$work"
pids=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "$work/$t"
  (cargo +nightly fuzz run -O "$t" "$work/$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$work/$t.log" 2>&1) &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
for t in "${targets[@]}"; do
  if grep -qE "^(==[0-9]+== ERROR|.*panicked)" "$work/$t.log"; then
    grep -E "crash-|panicked|Test unit written" "$work/$t.log" || true
    failed=1
  fi
done
((failed == 0)) || { echo "a target failed: see fuzz/$work/*.log"; exit 1; }

for t in "${targets[@]}"; do
  before=$(find "corpus/$t" -type f | wc -l)
  before_bytes=$(du -sb "corpus/$t" | cut -f1)
  mkdir -p "$work/$t.merged"
  cargo +nightly fuzz run -O "$t" "$work/$t.merged" "corpus/$t" "$work/$t" -- -merge=1 \
    >"$work/$t.merge.log" 2>&1
  rm -rf "corpus/$t" && mv "$work/$t.merged" "corpus/$t"
  after=$(find "corpus/$t" -type f | wc -l)
  after_bytes=$(du -sb "corpus/$t" | cut -f1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
  cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$work/$t.log" | tail -1)
  echo "$t: $runs runs in ${seconds} s ($rate per second), $cov; corpus $before files" \
    "($before_bytes bytes) -> $after ($after_bytes bytes)"
done
