#!/usr/bin/env bash
# Create a Python environment of reference tools (from PyPI) and link it
# into the checkout. The environment itself lives in a cache outside the
# checkout, keyed by its requirements, so fresh clones (CI) reuse it.
#
#   setup-python.sh          the main tools, scripts/requirements-*.txt -> .venv
#   setup-python.sh NAME     tools whose pins clash with the main ones,
#                            scripts/envs/NAME.txt -> .venv-NAME
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MLSDK_CACHE:-$HOME/.cache/ml-sdk}
PYTHON=${PYTHON:-python3}
name=${1:-}
if [ -z "$name" ]; then
  requirements=("$ROOT"/scripts/requirements-*.txt)
  prefix="venv-"
  link="$ROOT/.venv"
else
  requirements=("$ROOT/scripts/envs/$name.txt")
  [ -f "${requirements[0]}" ] || { echo "setup-python: no scripts/envs/$name.txt" >&2; exit 2; }
  prefix="venv-$name-"
  link="$ROOT/.venv-$name"
fi
key=$(cat "${requirements[@]}" | sha256sum | cut -c1-16)
venv="$CACHE/$prefix$key"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "setup-python: creating $venv"
  rm -rf "$venv"
  mkdir -p "$CACHE"
  # The .complete marker, written last, tells a finished environment from a half-built one.
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check $(printf -- '-r %s ' "${requirements[@]}")
  touch "$venv/.complete"
fi
ln -sfn "$venv" "$link"
echo "setup-python: $(basename "$link") -> $venv"
# Environments of earlier requirements (up to 1 GB each) are dropped once a
# day old, so a reused CI machine's disk does not fill up with them; a
# younger one may still serve another checkout's run. The main
# environments are venv-KEY, the named ones venv-NAME-KEY.
if [ -z "$name" ]; then
  find "$CACHE" -maxdepth 1 -name 'venv-*' ! -name 'venv-*-*' ! -path "$venv" -mtime +1 -exec rm -rf {} + 2>/dev/null || true
else
  find "$CACHE" -maxdepth 1 -name "$prefix*" ! -path "$venv" -mtime +1 -exec rm -rf {} + 2>/dev/null || true
fi
