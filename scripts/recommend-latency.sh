#!/usr/bin/env bash
# Regenerates results/<dataset>/recommend-latency.md: `movierec train`
# without --model (the default top-N model) on every rating, then
# `movierec recommend --ratings me.csv --json` for a new user with five
# movies, RUNS times; the CLI reports on stderr how long loading the model
# took and how long the list (fold-in, ranking, reasons) took after it.
#
#   MOVIELENS_ROOT=../shared/data scripts/recommend-latency.sh
#   RUNS=20 scripts/recommend-latency.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data_root="${MOVIELENS_ROOT:-data}"
runs="${RUNS:-10}"
name=ml-latest-small
dir="$data_root/$name"
cargo build --release -q -p movierec-cli
bin="$root/target/release/movierec"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" train --data "$dir" --out "$tmp/m.mrec" --quiet >"$tmp/train.txt"
printf 'movie,rating\nToy Story (1995),5\n"Matrix, The (1999)",4.5\n260,5\npulp fiction,2\nForrest Gump (1994),3.5\n' >"$tmp/me.csv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  "$bin" recommend --model "$tmp/m.mrec" --ratings "$tmp/me.csv" --json >"$tmp/out.json" 2>>"$tmp/err.txt"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$tmp" "$runs" "$load_before" "$load_after" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(nproc)" >"results/$name/recommend-latency.md" <<'PY'
import json, re, statistics, sys
tmp, runs, before, after, commit, cores = sys.argv[1:]
times = [(float(a), float(b)) for a, b in re.findall(r"loaded in ([0-9.]+) s; \d+ movies scored, ranked and explained in ([0-9.]+) ms", open(f"{tmp}/err.txt").read())]
rows = json.load(open(f"{tmp}/out.json"))
train = open(f"{tmp}/train.txt").read().strip().split("/")[-1]
load = [t[0] for t in times]; listed = [t[1] for t in times]
print(f"<!-- scripts/recommend-latency.sh; commit {commit}; {cores} cores; load {before} before, {after} after -->\n")
print(f"`movierec train` (no --model): {train}\n")
print(f"`movierec recommend --ratings me.csv --json` (five rated movies), {len(times)} runs:\n")
print("| | median | min | max |\n| --- | --- | --- | --- |")
print(f"| model load (s) | {statistics.median(load):.3f} | {min(load):.3f} | {max(load):.3f} |")
print(f"| after loading: fold-in, top 10, reasons (ms) | {statistics.median(listed):.1f} | {min(listed):.1f} | {max(listed):.1f} |\n")
print(f"The list: {len(rows)} movies, each with a title and {min(len(r['reasons']) for r in rows)} to {max(len(r['reasons']) for r in rows)} reasons; first: {rows[0]['title']} (because of {', '.join(x['title'] for x in rows[0]['reasons'])}).")
PY
echo "wrote results/$name/recommend-latency.md"
