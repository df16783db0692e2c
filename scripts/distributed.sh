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
#
# Then the same-model check on given train/test pairs (issue 18): the
# ml-latest-small pair of `movierec split --seed 42` (MOVIELENS_DIR, default
# data/ml-latest-small) and a 90/10 pair of the synthetic ratings. On each,
# 1 process x 2 workers and 2 processes x 1 worker must write the same
# model file (cmp), and their test RMSE is set beside single-process
# mf-sgd's over SEEDS seeds (the blockings differ, see
# crates/distributed/src/lib.rs, so the comparison is with its 95% CI).
#   PAIRS=0 scripts/distributed.sh                # timings only
#
# With BIG=1, last, the issue's large run: BIG_RATINGS (default 100
# million) synthetic ratings in the Netflix shape (480,189 users, 17,770
# movies), 2 processes x 1 worker against single-process mf-sgd on 2
# threads, same settings; wall time and the largest process's peak
# resident memory (/usr/bin/time -v). Needs about 3 GB of disk in TMPDIR.
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
pairs="${PAIRS:-1}"
seeds="${SEEDS:-1 2 3}"
ml="${MOVIELENS_DIR:-$root/data/ml-latest-small}"
: >"$tmp/pairs.txt"
pair() { # label, data folder, port, model flags...
  local label=$1 data=$2 p=$3; shift 3
  local d="$tmp/pair-$label"
  "$bin" split --data "$data" --seed 42 --out "$d" --quiet >/dev/null
  local flags=(--model mf-sgd --validation-fraction 0 "$@" --quiet)
  for s in $seeds; do
    "$bin" train --data "$d/train.csv" "${flags[@]}" --seed "$s" --workers 2 --out "$d/t$s.mrec" >/dev/null
    "$bin" launch --local 2 --port "$p" --checkpoints "$d/c$s" -- train --data "$d/train.csv" "${flags[@]}" --seed "$s" --workers 1 --out "$d/p$s.mrec" >/dev/null
    local same=no
    cmp -s "$d/t$s.mrec" "$d/p$s.mrec" && same=yes
    "$bin" predict --model "$d/p$s.mrec" --pairs "$d/test.csv" --out "$d/pred$s.csv" --quiet
    "$bin" evaluate --train "$d/train.csv" --test "$d/test.csv" "${flags[@]}" --seed "$s" --threads 2 --json >"$d/single$s.json"
    echo "$label $s $same $d/test.csv $d/pred$s.csv $d/single$s.json" >>"$tmp/pairs.txt"
  done
}
if [ "$pairs" = 1 ]; then
  if [ -f "$ml/ratings.csv" ]; then
    pair ml-latest-small "$ml" "$((port + 200))" --epochs "${PAIR_EPOCHS:-20}"
  else
    echo "no $ml/ratings.csv: skipping the ml-latest-small pair (set MOVIELENS_DIR)" >&2
  fi
  pair "synthetic-$ratings" "$tmp/data" "$((port + 300))" --factors "$factors" --epochs "$epochs"
fi
big_ratings="${BIG_RATINGS:-100000000}"
: >"$tmp/big.txt"
if [ "${BIG:-0}" = 1 ]; then
  big_users=$(( (480189 * (big_ratings / 1000)) / 100000 ))
  big_items=$(( (17770 * (big_ratings / 1000)) / 100000 ))
  "$bin" synth --users "$big_users" --items "$big_items" --ratings "$big_ratings" --seed 7 --out "$tmp/big" --quiet >/dev/null
  big=(--data "$tmp/big" --model mf-sgd --factors "$factors" --epochs "$epochs" --validation-fraction 0 --quiet)
  timed() { # label, command...
    local label=$1; shift
    /usr/bin/time -v -o "$tmp/$label.time" "$@" >"$tmp/$label.txt"
    printf '%s %s %s\n' "$label" \
      "$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + t[k]; print s}' "$tmp/$label.time")" \
      "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/$label.time")" >>"$tmp/big.txt"
  }
  timed big-p2 "$bin" launch --local 2 --port "$((port + 400))" --checkpoints "$tmp/cbig" -- train "${big[@]}" --workers 1 --out "$tmp/big-p2.mrec"
  rm -rf "$tmp/cbig" "$tmp/big-p2.mrec"
  timed big-single "$bin" train "${big[@]}" --threads 2 --out "$tmp/big-single.mrec"
  rm -rf "$tmp/big"
fi
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

big = [l.split() for l in open(f"{tmp}/big.txt")]
if big:
    times = {label: (float(wall), int(kb)) for label, wall, kb in big}
    text = open(f"{tmp}/big-p2.txt").read()
    m = re.search(r"on ([0-9]+) ratings of ([0-9]+) users and ([0-9]+) movies.*per epoch ([0-9.]+) s, ([0-9]+) bytes", text)
    n, users, movies, per_epoch, sent = m.groups()
    single = re.search(r"fitted on ([0-9]+) ratings", open(f"{tmp}/big-single.txt").read()).group(1)
    assert single == n, (single, n)
    print(f"\n## {int(n):,} ratings: 2 processes against one\n")
    print(f"Synthetic ratings in the Netflix shape ({int(users):,} users, {int(movies):,} movies), {factors} factors, {epochs} epochs, no validation. Wall time of the whole command (reading, fitting, gathering on process 0, writing the model file) and the peak resident memory of the largest process, from `/usr/bin/time -v` (for `launch`, the largest of its train processes).\n")
    print("| run | wall s | peak GB (largest process) | s per epoch | bytes between processes per epoch |")
    print("| --- | ---: | ---: | ---: | ---: |")
    w, kb = times["big-p2"]
    print(f"| `launch --local 2 -- train --workers 1` (2 processes x 1 worker) | {w:.1f} | {kb * 1024 / 1e9:.2f} | {float(per_epoch):.2f} | {int(sent):,} |")
    w, kb = times["big-single"]
    print(f"| `train --threads 2` (single-process mf-sgd) | {w:.1f} | {kb * 1024 / 1e9:.2f} | | |")
    print(f"\nTwo processes / one, wall time: {times['big-p2'][0] / times['big-single'][0]:.2f}.")

import csv, json, math, statistics
rows = [l.split() for l in open(f"{tmp}/pairs.txt")]
if rows:
    def rmse(test, pred):
        truth = {(r["userId"] if "userId" in r else r["user"], r["movieId"] if "movieId" in r else r["item"]): float(r["rating"]) for r in csv.DictReader(open(test))}
        errs = [(float(r["prediction"]) - truth[(r["user"], r["item"])]) ** 2 for r in csv.DictReader(open(pred))]
        return math.sqrt(sum(errs) / len(errs))
    def single(path):
        report = json.load(open(path))
        return float(report["models"][0]["mean"]["rmse"])
    T = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}
    def ci(xs):
        m = statistics.mean(xs)
        if len(xs) < 2:
            return m, float("nan")
        return m, T.get(len(xs), 1.96) * statistics.stdev(xs) / math.sqrt(len(xs))
    print("\n## Same model from threads or processes, same RMSE as single-process mf-sgd\n")
    print("On each given train/test pair (`movierec split --seed 42`), for each seed: `train --workers 2` (1 process x 2 workers) and `launch --local 2 -- train --workers 1` (2 processes x 1 worker) on train.csv, their model files compared byte for byte (`cmp`), and the 2-process model's test RMSE (`predict` on test.csv); beside it `evaluate --train --test` of single-process mf-sgd with the same settings and seed (`--validation-fraction 0`, no early stopping). The two blockings differ (hash strata against mf's count-balanced cache-sized strata, see `crates/distributed/src/lib.rs`), so the RMSEs agree within noise, not to the bit: the columns give each side's mean over the seeds with its 95% CI (t).\n")
    print("| pair | seeds | 1x2 = 2x1 (bytes) | timely RMSE | single-process RMSE | difference | within the single-process CI |")
    print("| --- | ---: | --- | ---: | ---: | ---: | --- |")
    for label in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == label]
        same = all(r[2] == "yes" for r in mine)
        t_m, t_h = ci([rmse(r[3], r[4]) for r in mine])
        s_m, s_h = ci([single(r[5]) for r in mine])
        print(f"| {label} | {len(mine)} | {'yes' if same else 'NO'} | {t_m:.4f} ± {t_h:.4f} | {s_m:.4f} ± {s_h:.4f} | {t_m - s_m:+.4f} | {'yes' if abs(t_m - s_m) <= s_h else 'no'} |")
PY
cat results/distributed.md
