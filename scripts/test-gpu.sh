#!/usr/bin/env bash
# ml-neural's wgpu backend against its CPU backend (ml-neural/tests/gpu.rs).
# Not part of .ci/run: the `wgpu` feature adds about 14 CPU-minutes to a
# from-scratch build. On a machine without a GPU it installs Mesa's software
# Vulkan driver first, so the same code path runs on lavapipe.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CACHE=${MLSDK_CACHE:-$HOME/.cache/ml-sdk}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target-gpu}
bash scripts/setup-vulkan.sh
# Mesa's window-system code wants a runtime directory even off screen.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
MLSDK_REQUIRE_GPU=1 cargo test --locked -p ml-neural --features wgpu --release --test gpu -- --nocapture "$@"
# Every Vulkan and EGL driver hidden: the backend must report no adapter.
VK_DRIVER_FILES=/nonexistent.json VK_ICD_FILENAMES=/nonexistent.json \
  __EGL_VENDOR_LIBRARY_FILENAMES=/nonexistent.json MLSDK_EXPECT_NO_GPU=1 \
  cargo test --locked -p ml-neural --features wgpu --release --test gpu -- --nocapture without_an_adapter
