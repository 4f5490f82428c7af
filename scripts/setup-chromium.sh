#!/usr/bin/env bash
# Debian's Chromium for the browser checks (the MLflow UI showing a run,
# the HTML reports); prints the export line scripts/test.sh evaluates.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  echo "setup-chromium: installing Debian's chromium" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2
fi
echo "export MLSDK_CHROMIUM=$(command -v chromium)"
