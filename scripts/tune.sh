#!/usr/bin/env bash
# Reruns every tuning search (validation sets only) and writes
# results/<dataset>/tuning-<model>.{md,json}. The models' defaults are the
# winners recorded there; a test checks that they agree.
#
#   scripts/tune.sh            # all tuned models on data/ml-latest-small
#   scripts/tune.sh knn        # one model
#   scripts/tune.sh mf-sgd-report   # a model's report preset: MODEL-report
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data="${MOVIELENS_DIR:-data/ml-latest-small}"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(knn mf-sgd mf-sgd-report autoencoder)
cargo build --release -q -p movierec-cli
for model in "${models[@]}"; do
  echo "tuning $model on $data" >&2
  case "$model" in
    *-report) flags=(--model "${model%-report}" --preset report) ;;
    *) flags=(--model "$model") ;;
  esac
  target/release/movierec tune "${flags[@]}" --data "$data" --repeats 3 --seed 42 --quiet >/dev/null
done
