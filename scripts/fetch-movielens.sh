#!/usr/bin/env bash
# Gets ml-latest-small into data/ and verifies it against
# scripts/ml-latest-small.sha256 (the CSV files' SHA-256 checksums).
#
#   scripts/fetch-movielens.sh                  # download from GroupLens
#   MOVIELENS_MIRROR=../shared/data scripts/fetch-movielens.sh   # copy from a local folder
#
# MOVIELENS_MIRROR is a folder holding ml-latest-small/ (and optionally
# ml-latest-small-2016/, copied too when present; it has no published
# checksum list here, so it is copied as is). Nothing is replaced unless
# the new copy verifies: files land in a temporary folder first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/data"
url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -n "${MOVIELENS_MIRROR:-}" ] && [ -d "$MOVIELENS_MIRROR" ] \
  && [ "$(cd "$MOVIELENS_MIRROR" && pwd -P)" = "$(cd "$dest" && pwd -P)" ]; then
  # The mirror is data/ itself: verify in place, never delete what cannot be copied back.
  (cd "$dest" && sha256sum --check --quiet "$root/scripts/ml-latest-small.sha256") || {
    echo "error: checksums of $dest/ml-latest-small do not match scripts/ml-latest-small.sha256" >&2
    exit 1
  }
  echo "ml-latest-small already in $dest/ml-latest-small (the mirror is data/ itself); verified"
  exit 0
fi

if [ -n "${MOVIELENS_MIRROR:-}" ]; then
  src="$MOVIELENS_MIRROR/ml-latest-small"
  [ -d "$src" ] || { echo "error: $src does not exist (MOVIELENS_MIRROR=$MOVIELENS_MIRROR)" >&2; exit 1; }
  echo "copying ml-latest-small from $src"
  mkdir -p "$tmp/ml-latest-small"
  cp "$src"/*.csv "$tmp/ml-latest-small/"
  [ -f "$src/README.txt" ] && cp "$src/README.txt" "$tmp/ml-latest-small/"
else
  echo "downloading $url"
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 -o "$tmp/ml-latest-small.zip" "$url"
  else
    wget -q -O "$tmp/ml-latest-small.zip" "$url"
  fi
  (cd "$tmp" && unzip -q ml-latest-small.zip && rm ml-latest-small.zip)
fi

(cd "$tmp" && sha256sum --check --quiet "$root/scripts/ml-latest-small.sha256") || {
  echo "error: checksums of ml-latest-small do not match scripts/ml-latest-small.sha256" >&2
  exit 1
}
rm -rf "$dest/ml-latest-small"
mv "$tmp/ml-latest-small" "$dest/ml-latest-small"
echo "ml-latest-small verified in $dest/ml-latest-small"

if [ -n "${MOVIELENS_MIRROR:-}" ] && [ -d "$MOVIELENS_MIRROR/ml-latest-small-2016" ]; then
  # Copied first, then swapped in: the old copy goes only once the new one is whole.
  mkdir -p "$tmp/ml-latest-small-2016"
  cp "$MOVIELENS_MIRROR/ml-latest-small-2016"/*.csv "$tmp/ml-latest-small-2016/"
  rm -rf "$dest/ml-latest-small-2016"
  mv "$tmp/ml-latest-small-2016" "$dest/ml-latest-small-2016"
  echo "ml-latest-small-2016 copied to $dest/ml-latest-small-2016"
fi
