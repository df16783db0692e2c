#!/usr/bin/env bash
# Regenerates results/gap-analysis.md: the report's 15 minutes (autoencoder)
# against 10 hours (dense full-batch MF) explained from measurements.
#  1. Three training curves, repeat 0 of the protocol on one thread:
#     the report's dense MF, the report's MF by sparse SGD, the report's
#     autoencoder (`movierec evaluate ... --out target/gap-analysis/*.json`).
#  2. The seconds of one step of each, in the same configurations
#     (criterion group gap/step, benches/gap.rs).
#  3. `movierec report gap-analysis` (crates/cli/src/report/gap_analysis.rs):
#     work per step, steps to a validation RMSE, their product, and the numpy
#     estimate, into the markdown (every figure computed; the commands that
#     produced the inputs are in the file).
#
#   scripts/gap-analysis.sh
#   GAP_SKIP_BENCH=1 scripts/gap-analysis.sh     # reuse the gap/step results of scripts/bench-report.sh
#   MOVIELENS_DIR=../shared/data/ml-latest-small scripts/gap-analysis.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data="${MOVIELENS_DIR:-data/ml-latest-small}"  # relative, so provenance lines do not name this machine's paths
out="${GAP_OUT:-results/gap-analysis.md}"
target="${CARGO_TARGET_DIR:-target}"
curves="$target/gap-analysis"
if [ ! -d "$data" ]; then
  echo "gap-analysis: $data not found (scripts/fetch-movielens.sh gets it)" >&2
  exit 1
fi
cargo build --release -q -p movierec-cli
mkdir -p "$curves"
bin="$target/release/movierec"
run() { # name, then model flags
  local name=$1; shift
  echo "gap-analysis: training $name" >&2
  "$bin" evaluate --data "$data" "$@" --repeats 1 --seed 42 --threads 1 --quiet \
    --out "$curves/$name.json" >/dev/null
}
run mf-dense --model mf-dense --epochs 1000
run mf-sgd --model mf-sgd --preset report
run autoencoder --model autoencoder --preset report
command="scripts/gap-analysis.sh"
if [ "${GAP_SKIP_BENCH:-0}" = 1 ]; then
  command="GAP_SKIP_BENCH=1 $command"
  baseline=bench-report   # saved by scripts/bench-report.sh
else
  baseline=gap-analysis
  cargo bench -q -p movierec-benches --bench main -- --noplot --save-baseline "$baseline" gap/step
fi
[ -n "${MOVIELENS_DIR:-}" ] && command="MOVIELENS_DIR=$MOVIELENS_DIR $command"
"$bin" report gap-analysis --data "$data" --curves "$curves" --criterion "$target/criterion" \
  --baseline "$baseline" \
  --out "$out" --command "$command"
