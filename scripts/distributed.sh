#!/usr/bin/env bash
# Regenerates results/distributed.md: `movierec train --model mf-sgd` over
# timely (crates/distributed) on synthetic ratings, with 1 worker, 2
# processes x 1 worker and 4 processes x 1 worker (launch --local, loopback
# TCP), beside single-process mf-sgd on 1 thread; time per epoch and the
# payload bytes the workers sent to other processes per epoch. Data and
# checkpoints live under a temporary folder (TMPDIR), never in the repo.
#
#   scripts/distributed.sh                        # 10 million ratings
#   RATINGS=1000000 EPOCHS=3 scripts/distributed.sh
#   MOVIEREC_BIN=/path/to/movierec scripts/distributed.sh   # skip the build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ratings="${RATINGS:-10000000}"
users="${USERS:-$((ratings / 100))}"
items="${ITEMS:-$((ratings / 500 + 100))}"
epochs="${EPOCHS:-5}"
factors="${FACTORS:-32}"
port="${PORT:-26100}"
bin="${MOVIEREC_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release -q -p movierec-cli
  bin="$root/target/release/movierec"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" synth --users "$users" --items "$items" --ratings "$ratings" --seed 7 --out "$tmp/data" --quiet >/dev/null
common=(--data "$tmp/data" --model mf-sgd --factors "$factors" --epochs "$epochs" --validation-fraction 0 --quiet)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run() { # label, command...
  local label=$1; shift
  local t0 t1
  t0=$EPOCHREALTIME
  "$@" >"$tmp/$label.txt"
  t1=$EPOCHREALTIME
  awk -v l="$label" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.3f\n", l, b - a }' >>"$tmp/wall.txt"
}
run mf-1-thread "$bin" train "${common[@]}" --threads 1 --out "$tmp/m0.mrec"
run w1 "$bin" train "${common[@]}" --workers 1 --out "$tmp/m1.mrec"
run p2 "$bin" launch --local 2 --port "$port" --checkpoints "$tmp/c2" -- train "${common[@]}" --workers 1 --out "$tmp/m2.mrec"
run p4 "$bin" launch --local 4 --port "$((port + 100))" --checkpoints "$tmp/c4" -- train "${common[@]}" --workers 1 --out "$tmp/m4.mrec"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$tmp" "$ratings" "$epochs" "$factors" "$load_before" "$load_after" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(nproc)" >results/distributed.md <<'PY'
import re, sys
tmp, ratings, epochs, factors, before, after, commit, cores = sys.argv[1:]
wall = dict(l.split() for l in open(f"{tmp}/wall.txt"))
print(f"<!-- scripts/distributed.sh; commit {commit}; {cores} cores; load {before} before, {after} after -->\n")
print(f"# mf-sgd over timely: {int(ratings):,} synthetic ratings, {factors} factors, {epochs} epochs, no validation\n")
print("| run | workers | s per epoch | bytes sent between processes per epoch | wall s (with reading and start-up) |")
print("| --- | ---: | ---: | ---: | ---: |")
for label, name, w in [("w1", "1 process x 1 worker", 1), ("p2", "2 processes x 1 worker (loopback)", 2), ("p4", "4 processes x 1 worker (loopback)", 4)]:
    text = open(f"{tmp}/{label}.txt").read()
    m = re.search(r"per epoch ([0-9.]+) s, ([0-9]+) bytes", text)
    print(f"| {name} | {w} | {float(m.group(1)):.2f} | {int(m.group(2)):,} | {float(wall[label]):.1f} |")
print(f"| single-process mf-sgd, 1 thread | 1 | | | {float(wall['mf-1-thread']):.1f} |")
print(f"\nThe machine has {cores} cores, shared: runs with more workers than free cores measure the protocol's overhead, not a speed-up. Bytes are the payload the workers sent to workers of other processes (item blocks and sums), as counted by the workers.")
PY
cat results/distributed.md
