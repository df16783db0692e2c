#!/usr/bin/env bash
# Regenerates results/ml-latest-small/knn-cap.{md,csv,json}: what keeping
# only each item's N most similar items (`--max-neighbours N`, memory items x N
# instead of items squared) costs the default KNN in test RMSE.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir="${MOVIELENS_ROOT:-data}/ml-latest-small"
cargo build --release -q -p movierec-cli
bin="$root/target/release/movierec"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=()
for n in exact 20 50 200; do
  flags=()
  [ "$n" = exact ] || flags=(--max-neighbours "$n")
  "$bin" evaluate --data "$dir" --model knn "${flags[@]}" --label "knn-cap-$n" --repeats 5 --seed 42 --quiet \
    --out "$tmp/$n.json" >/dev/null
  rows+=(--from "$tmp/$n.json")
done
out=results/ml-latest-small
mkdir -p "$out"
"$bin" table "${rows[@]}" --out "$out/knn-cap.md" --out "$out/knn-cap.csv" --out "$out/knn-cap.json" >/dev/null
echo "wrote $out/knn-cap.{md,csv,json}" >&2
