#!/usr/bin/env bash
# Regenerates results/<dataset>/nested.{md,csv,json}: the tuned models scored
# with the search inside each repeat (`evaluate --tune`): each repeat's grid
# search sees only that repeat's train and validation parts, so no setting
# was chosen on ratings that any repeat scores as test. Compare with
# models.md, whose tuned defaults were chosen once on the validation parts of
# 3 repeats (scripts/tune.sh), which overlap other repeats' test parts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data_root="${MOVIELENS_ROOT:-data}"
cargo build --release -q -p movierec-cli
bin="$root/target/release/movierec"
name=ml-latest-small
dir="$data_root/$name"
[ -d "$dir" ] || { echo "error: $dir not found (scripts/fetch-movielens.sh gets it)" >&2; exit 1; }
out="results/$name"
mkdir -p "$out"
"$bin" evaluate --data "$dir" --model knn,mf-sgd,autoencoder --tune --repeats 5 --seed 42 --quiet \
  --out "$out/nested.md" --out "$out/nested.csv" --out "$out/nested.json" >/dev/null
echo "wrote $out/nested.{md,csv,json}" >&2
