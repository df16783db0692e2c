#!/usr/bin/env bash
# Regenerates the report rebuilt, for each dataset present:
#   results/<dataset>/table1-accuracy.{md,csv,json}   the report's Table 1 beside ours
#   results/<dataset>/table2-mse.{md,csv,json}        the report's Table 2 beside ours
#   results/<dataset>/report-protocol.{md,json}       accuracy the report's way vs held out
#   results/<dataset>/reproduce.{md,json}             every row in evaluate's format
#   results/<dataset>/curves-{autoencoder,mf-sgd,mf-dense}.svg   Figures 5 and 6
#   results/<dataset>/time-to-accuracy.{svg,md}       validation RMSE against seconds
# with `movierec reproduce` (5 repeats of the report's seeded 90/10 protocol,
# seed 42; the report's dense-GD MF under a step budget stated in the tables).
# The report's own figures come from results/report-figures.toml.
#
#   scripts/reproduce.sh                          # data/ml-latest-small and -2016 if present
#   MOVIELENS_ROOT=../shared/data scripts/reproduce.sh
#   scripts/reproduce.sh --quick                  # extra flags go to every run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data_root="${MOVIELENS_ROOT:-data}"  # relative, so provenance lines do not name this machine's paths
cargo build --release -q -p movierec-cli
bin="${CARGO_TARGET_DIR:-$root/target}/release/movierec"
for name in ml-latest-small ml-latest-small-2016; do
  dir="$data_root/$name"
  if [ ! -d "$dir" ]; then
    echo "skipping $name: $dir not found (scripts/fetch-movielens.sh gets ml-latest-small; GroupLens no longer serves the 2016 release)" >&2
    continue
  fi
  start=$(date +%s%N)
  "$bin" reproduce --data "$dir" --seed 42 --out-dir results "$@"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%s: reproduce took %d.%03d s\n' "$name" $((ms / 1000)) $((ms % 1000)) >&2
done
