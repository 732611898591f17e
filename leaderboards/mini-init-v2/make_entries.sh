#!/usr/bin/env bash
# The mini-init-v2 entries: floors (identity, colour-transfer) and the ground truth's own row on four tasks.
# Usage: leaderboards/mini-init-v2/make_entries.sh WORKDIR   (from the repository root; takes ~10 min on 2 CPU cores)
# No pretrained weights here: LPIPS with a random backbone and small classifiers trained from scratch (recorded in
# every result, which is therefore not conformant).
set -euo pipefail
W=${1:?WORKDIR}
CODE_URL=${CODE_URL:-"https://github.com/initbench/initbench@$(git rev-parse --short HEAD)"}
mkdir -p "$W/results" "$W/entries"
[ -d "$W/data/sunny" ] || initbench synth "$W/data" --paired                       # 64 per domain, 256 x 160, seed 0
[ -f "$W/clf.pt" ] || initbench train-classifier "$W/data" --small --split drives --out "$W/clf.pt"
[ -f "$W/obj.pt" ] || initbench train-classifier "$W/data" --small --objects --split drives --out "$W/obj.pt"
for task in sunny2night night2sunny sunny2rainy sunny2cloudy; do
  for method in identity colour-transfer ground-truth; do
    cmd="initbench evaluate --method $method --data DATA --task $task --protocol paired-v1 --lpips-backbone random \
--classifier clf.pt --object-classifier obj.pt"
    initbench evaluate --method "$method" --data "$W/data" --task "$task" --protocol paired-v1 \
      --lpips-backbone random --classifier "$W/clf.pt" --object-classifier "$W/obj.pt" \
      --synth-params 64,0,256x160 --out "$W/results/$method-$task.json" > /dev/null
    initbench leaderboard from-results "$W/results/$method-$task.json" --benchmark mini-init-v2 --method "$method" \
      --seeds 0 --code-url "$CODE_URL" --command "$cmd" --out "$W/entries/$method-$task.json"
    initbench leaderboard submit "$W/entries/$method-$task.json" --root leaderboards
  done
done
