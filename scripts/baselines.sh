#!/usr/bin/env bash
# Regenerates results/<dataset>/baselines.{md,csv,json}: the constant,
# global-mean and bias baselines under the report's protocol (5 repeats),
# for each dataset folder found (ml-latest-small, ml-latest-small-2016).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data_root="${MOVIELENS_ROOT:-data}"  # relative, so provenance lines do not name this machine's paths
cargo build --release -q -p movierec-cli
bin="$root/target/release/movierec"
for name in ml-latest-small ml-latest-small-2016; do
  dir="$data_root/$name"
  if [ ! -d "$dir" ]; then
    echo "skipping $name: $dir not found (scripts/fetch-movielens.sh gets it)" >&2
    continue
  fi
  out="results/$name"
  mkdir -p "$out"
  "$bin" evaluate --data "$dir" --model constant,global-mean,bias --repeats 5 --seed 42 --quiet \
    --out "$out/baselines.md" --out "$out/baselines.csv" --out "$out/baselines.json" >/dev/null
  echo "wrote $out/baselines.{md,csv,json}"
done
