#!/usr/bin/env bash
# A fuzzing campaign that accumulates: each target fuzzes for SECONDS from the committed
# corpus (fuzz/corpus/TARGET) and the readable seeds (fuzz/seeds/TARGET), the targets side
# by side (one core each), then what it found is merged back into fuzz/corpus/TARGET,
# minimized (libFuzzer's -merge=1: the smallest set with the same coverage), and every
# input of the merged corpus is run once more under AddressSanitizer. Commit the corpus
# afterwards; CI fuzzes from it (scripts/test.sh), so each run starts where the last
# campaign stopped. A crash stops the campaign: minimize it into fuzz/regressions/TARGET/
# (`cargo +nightly fuzz tmin`), where `cargo test` replays it.
#
# The campaign fuzzes with a build without AddressSanitizer (`-s none`; comparison
# tracing kept), 4-7 times the executions per second of the sanitized build, whose
# instrumented allocator and standard library are most of an execution's time
# (fuzz/README.md, "Speed"). The contract the targets check is the same in both builds;
# what only the sanitizer sees (an access out of bounds that does not crash) is looked
# for in every input the campaign keeps, by the replay, and in CI, which fuzzes with the
# sanitized build from the corpus.
#   bash scripts/fuzz_campaign.sh 600                # every target, 10 minutes each
#   bash scripts/fuzz_campaign.sh 3600 rotate capi   # some targets
# Inputs are at most 4 KiB (`-max_len`): the larger hand-made seeds (fuzz/seeds/rotate/
# stream-*) are run as they are, and mutants of them would make executions slower and the
# committed corpus megabytes larger without reaching more.
# Campaigns of different targets may run at once (each has its own work directory).
# Prints, per target: executions, executions per second, corpus entries and bytes before
# and after; append them to the campaign log in fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(rotate capi config)

fast=(-O -s none --target-dir target/fast)
for t in "${targets[@]}"; do
  cargo +nightly fuzz build -O "$t"
  cargo +nightly fuzz build "${fast[@]}" "$t"
done
pids=()
for t in "${targets[@]}"; do
  work=target/campaign/$t
  rm -rf "$work" && mkdir -p "$work/new" "corpus/$t"
  (cargo +nightly fuzz run "${fast[@]}" "$t" "$work/new" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 >"$work/run.log" 2>&1) &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
for t in "${targets[@]}"; do
  if grep -qE "^(==[0-9]+== ERROR|.*panicked)" "target/campaign/$t/run.log"; then
    grep -E "crash-|panicked|Test unit written" "target/campaign/$t/run.log" || true
    failed=1
  fi
done
((failed == 0)) || { echo "a target failed: see fuzz/target/campaign/*/run.log"; exit 1; }

for t in "${targets[@]}"; do
  work=target/campaign/$t
  before=$(find "corpus/$t" -type f | wc -l)
  before_bytes=$(du -sb "corpus/$t" | cut -f1)
  mkdir -p "$work/merged"
  cargo +nightly fuzz run -O "$t" "$work/merged" "corpus/$t" "$work/new" -- -merge=1 -max_len=4096 \
    >"$work/merge.log" 2>&1
  rm -rf "corpus/$t" && mv "$work/merged" "corpus/$t"
  # Every kept input once under AddressSanitizer (-runs=0: the corpus, no mutation).
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -runs=0 >"$work/replay.log" 2>&1 ||
    { tail -n 30 "$work/replay.log"; echo "$t: the sanitized replay of the corpus failed"; exit 1; }
  after=$(find "corpus/$t" -type f | wc -l)
  after_bytes=$(du -sb "corpus/$t" | cut -f1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/run.log")
  cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$work/run.log" | tail -1)
  echo "$t: $runs runs in ${seconds} s ($rate per second), $cov; corpus $before files" \
    "($before_bytes bytes) -> $after ($after_bytes bytes); replayed under AddressSanitizer"
done
