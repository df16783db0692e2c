#!/usr/bin/env bash
# Runs the criterion benchmarks (benches/bench_main.rs: data/parse,
# knn/similarity, knn/predict, mf/dense_step, mf/sgd_epoch, mf/sweep,
# autoencoder/forward|backward|epoch, gap/step, and any group added there)
# and writes results/benchmarks.md from target/criterion/**/bench-report/*.json
# through `movierec report benchmarks` (crates/cli/src/report/benchmarks.rs):
# every benchmark's time and throughput, every dense/sparse pair with its
# ratio, and the machine.
# Only results written by this run are reported, so a filtered run gives a
# filtered report.
#
#   scripts/bench-report.sh                      # everything, each group's own times (~15 min on 2 busy cores)
#   BENCH_QUICK=1 scripts/bench-report.sh        # criterion --quick: each benchmark stops once stable (faster, noisier)
#   BENCH_FILTER='mf/' scripts/bench-report.sh   # one area (criterion's filter regex)
#
# Environment: BENCH_FILTER (regex, default all), BENCH_WARM_UP (seconds of
# warm-up for groups that set none, default 1), BENCH_MEASUREMENT (seconds
# of measurement for groups that set none), BENCH_QUICK=1, BENCH_OUT
# (default results/benchmarks.md), MOVIELENS_DIR (real ml-latest-small for
# data/parse and knn/similarity; default data/ml-latest-small if present).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="${BENCH_OUT:-results/benchmarks.md}"
given_dir="${MOVIELENS_DIR:-}"
if [ -z "${MOVIELENS_DIR:-}" ] && [ -d data/ml-latest-small ]; then
  export MOVIELENS_DIR=data/ml-latest-small
fi
# cargo runs benchmarks from benches/: hand them an absolute path.
[ -n "${MOVIELENS_DIR:-}" ] && MOVIELENS_DIR=$(cd "$MOVIELENS_DIR" && pwd)
target="${CARGO_TARGET_DIR:-target}"
# Results are also saved as the baseline `bench-report`, which this report
# reads: a later `cargo bench` (writing `new/`) does not change it.
args=(--noplot --save-baseline bench-report --warm-up-time "${BENCH_WARM_UP:-1}")
[ -n "${BENCH_MEASUREMENT:-}" ] && args+=(--measurement-time "$BENCH_MEASUREMENT")
[ "${BENCH_QUICK:-0}" = 1 ] && args+=(--quick)
[ -n "${BENCH_FILTER:-}" ] && args+=("$BENCH_FILTER")

cargo bench -q -p movierec-benches --bench main --no-run
cargo build -q --release -p movierec-cli
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
start=$(date +%s)
cargo bench -q -p movierec-benches --bench main -- "${args[@]}"
command="scripts/bench-report.sh"
for v in BENCH_FILTER BENCH_WARM_UP BENCH_MEASUREMENT BENCH_QUICK; do
  [ -n "${!v:-}" ] && command="$v=${!v} $command"
done
[ -n "$given_dir" ] && command="MOVIELENS_DIR=$given_dir $command"
"$target/release/movierec" report benchmarks --criterion "$target/criterion" --baseline bench-report \
  --since "$start" --out "$out" \
  --command "$command" --load-before "$load_before" --elapsed "$(($(date +%s) - start))"
