#!/usr/bin/env bash
# A Vulkan driver for ml-neural's `wgpu` feature on a machine without a GPU:
# Debian's Mesa (lavapipe, a software Vulkan implementation) and the Vulkan
# loader. wgpu finds lavapipe as a CPU adapter, so the GPU code path runs
# here, slowly, and its results can be compared with the CPU backend's.
set -euo pipefail
packages=(mesa-vulkan-drivers libvulkan1)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-vulkan: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi
