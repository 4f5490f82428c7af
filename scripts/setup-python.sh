#!/usr/bin/env bash
# Create the Python environment of the reference tools (from PyPI) and link it
# as .venv/. The environment itself lives in a cache outside the checkout,
# keyed by the requirements files, so fresh clones (CI) reuse it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MLSDK_CACHE:-$HOME/.cache/ml-sdk}
PYTHON=${PYTHON:-python3}
key=$(cat "$ROOT"/scripts/requirements-*.txt | sha256sum | cut -c1-16)
venv="$CACHE/venv-$key"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "setup-python: creating $venv"
  rm -rf "$venv"
  mkdir -p "$CACHE"
  # The .complete marker, written last, tells a finished environment from a half-built one.
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check $(printf -- '-r %s ' "$ROOT"/scripts/requirements-*.txt)
  touch "$venv/.complete"
fi
ln -sfn "$venv" "$ROOT/.venv"
echo "setup-python: .venv -> $venv"
# Environments of earlier requirements (about 1 GB each) are dropped once a
# day old, so a reused CI machine's disk does not fill up with them; a
# younger one may still serve another checkout's run.
find "$CACHE" -maxdepth 1 -name 'venv-*' ! -path "$venv" -mtime +1 -exec rm -rf {} + 2>/dev/null || true
