#!/usr/bin/env bash
# Build the guide (guide/src) with mdBook into DIR (default guide/book).
# mdBook comes from crates.io, built once into the cache outside the
# checkout ($MLSDK_CACHE/tools) at the pinned version; its snippets are
# compiled and run by `cargo test -p ml-sdk-guide`, not here.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MLSDK_CACHE:-$HOME/.cache/ml-sdk}
VERSION=0.5.4
TOOLS="$CACHE/tools"
MDBOOK="$TOOLS/bin/mdbook"
if ! "$MDBOOK" --version 2>/dev/null | grep -qx "mdbook v$VERSION"; then
  echo "build-guide: installing mdbook $VERSION into $TOOLS"
  # Its own target directory: the workspace's is for the workspace.
  CARGO_TARGET_DIR="$TOOLS/build" cargo install mdbook --version "$VERSION" --locked \
    --no-default-features --root "$TOOLS" --quiet
  rm -rf "$TOOLS/build"
fi
out=${1:-$ROOT/guide/book}
"$MDBOOK" build "$ROOT/guide" --dest-dir "$out"
# Every chapter of SUMMARY.md became a page.
missing=0
for chapter in $(grep -o '([^)]*\.md)' "$ROOT/guide/src/SUMMARY.md" | tr -d '()'); do
  page="$out/${chapter%.md}.html"
  [ -s "$page" ] || { echo "build-guide: $page was not written" >&2; missing=1; }
done
[ "$missing" = 0 ]
echo "build-guide: $(ls "$out"/*.html | wc -l) pages in $out"
