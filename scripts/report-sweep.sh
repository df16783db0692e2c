#!/usr/bin/env bash
# Regenerates the sweep of the readings the report's autoencoder code leaves
# open (issue 20: DATA_SIZE, training length, noise ratings, mean vs summed
# loss), each measured the report's way and held out, on repeat 0 of the
# report's 90/10 split (seed 42):
#   results/<dataset>/report-protocol.md     its section, between the report-sweep markers
#   results/<dataset>/report-sweep.json      the rows and the closest curve
#   results/<dataset>/curves-report-sweep.svg  the closest configuration's curves
# with `movierec reproduce --sweep`; `scripts/reproduce.sh` keeps the section.
# About 2 minutes on 2 busy cores.
#
#   scripts/report-sweep.sh                       # data/ml-latest-small
#   MOVIELENS_ROOT=../shared/data scripts/report-sweep.sh
#   scripts/report-sweep.sh --sweep-epochs 100    # extra flags go to the run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data_root="${MOVIELENS_ROOT:-data}"  # relative, so provenance lines do not name this machine's paths
cargo build --release -q -p movierec-cli
bin="${CARGO_TARGET_DIR:-$root/target}/release/movierec"
dir="$data_root/ml-latest-small"
if [ ! -d "$dir" ]; then
  echo "$dir not found (scripts/fetch-movielens.sh gets ml-latest-small)" >&2
  exit 1
fi
start=$(date +%s%N)
"$bin" reproduce --sweep --data "$dir" --seed 42 --sweep-epochs 300 --sweep-long 2000 --out-dir results "$@"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'report sweep took %d.%03d s\n' $((ms / 1000)) $((ms % 1000)) >&2
