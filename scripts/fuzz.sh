#!/usr/bin/env bash
# Regenerates results/fuzz.md: the long fuzz campaign of issue 16. In release
# mode, FUZZ_CASES (default 10,000) mutated model files with recomputed
# checksums per model target (bias, constant, popular, four KNN variants,
# MF SGD and dense, item- and user-based autoencoder, EASE, iALS, Mult-DAE,
# Mult-VAE), as many mutated ratings/movies folders and --config files, and
# a tenth as many runs of the binary on mutated --ratings and model files.
# Fails on any panic; the table counts each outcome per target.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cases="${FUZZ_CASES:-10000}"
seed="${FUZZ_SEED:-16}"
cmd="cargo test --release -p movierec-cli --test integration fuzz::campaign -- --ignored --exact --nocapture"
commit=$(git rev-parse --short HEAD)
cores=$(nproc 2>/dev/null || echo "?")
FUZZ_CASES="$cases" FUZZ_SEED="$seed" FUZZ_REPORT="$root/results/fuzz.md" \
  FUZZ_PROVENANCE="scripts/fuzz.sh: FUZZ_CASES=$cases FUZZ_SEED=$seed $cmd; commit $commit; $cores cores" \
  $cmd
echo "wrote results/fuzz.md" >&2
