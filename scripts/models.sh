#!/usr/bin/env bash
# Regenerates results/<dataset>/models.{md,csv,json}: every model under the
# report's protocol (5 repeats of a seeded 90/10 holdout, seed 42), one row
# per configuration: the baselines, the report's form of each model, and our
# tuned defaults. The report's dense-GD MF runs with a step budget (its
# label says how many steps), since each step is a full dense product.
#
#   scripts/models.sh                        # data/ml-latest-small and -2016 if present
#   MOVIELENS_ROOT=../shared/data scripts/models.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data_root="${MOVIELENS_ROOT:-data}"  # relative, so provenance lines do not name this machine's paths
dense_steps="${DENSE_STEPS:-200}"
cargo build --release -q -p movierec-cli
bin="$root/target/release/movierec"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in ml-latest-small ml-latest-small-2016; do
  dir="$data_root/$name"
  if [ ! -d "$dir" ]; then
    echo "skipping $name: $dir not found (scripts/fetch-movielens.sh gets it)" >&2
    continue
  fi
  rows=()
  row() { # label, then evaluate flags
    local label=$1; shift
    echo "$name: $label" >&2
    "$bin" evaluate --data "$dir" --repeats 5 --seed 42 --quiet --label "$label" "$@" \
      --out "$tmp/$label.json" >/dev/null
    rows+=(--from "$tmp/$label.json")
  }
  row constant --model constant
  row global-mean --model global-mean
  row bias --model bias
  row knn-report --model knn --preset report
  row knn-report-formula --model knn --prediction report
  row knn-mean-centred --model knn --prediction mean-centred
  row knn-baseline --model knn --prediction baseline
  row mf-dense-report-"$dense_steps"-steps --model mf-dense --epochs "$dense_steps"
  row mf-sgd-report --model mf-sgd --preset report
  row mf-sgd --model mf-sgd
  row autoencoder-report --model autoencoder --preset report
  row autoencoder-report-deep --model autoencoder --preset report-deep
  row autoencoder --model autoencoder
  out="results/$name"
  mkdir -p "$out"
  "$bin" table "${rows[@]}" --out "$out/models.md" --out "$out/models.csv" --out "$out/models.json" >/dev/null
  echo "wrote $out/models.{md,csv,json}" >&2
done
