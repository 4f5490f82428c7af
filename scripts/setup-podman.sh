#!/usr/bin/env bash
# Podman for the container test (cli/tests/deploy_docker.rs), offline:
# Debian's podman and its helpers, a configuration of the test's own (what
# works on these machines: runc, cgroupfs, file events, low default
# ulimits), and the Dockerfile's base image, debian:bookworm-slim, made with
# debootstrap from the Debian mirror apt uses and imported under that name,
# so builds run with --pull=never and no registry.
#
# Prints the environment the test needs (CONTAINERS_CONF,
# CONTAINERS_STORAGE_CONF); storage lives in the cache outside the checkout.
set -euo pipefail
CACHE=${MLSDK_CACHE:-$HOME/.cache/ml-sdk}
dir="$CACHE/podman"
mkdir -p "$dir"
packages=(podman buildah debootstrap runc iptables uidmap slirp4netns netavark aardvark-dns catatonit)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-podman: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi
cat > "$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat > "$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$dir/run"
CONF
export CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf"
if ! podman image exists docker.io/library/debian:bookworm-slim; then
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d)
  echo "setup-podman: debootstrap bookworm from $mirror" >&2
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
  tar -C "$rootfs" -c . | podman import - docker.io/library/debian:bookworm-slim >&2
  rm -rf "$rootfs"
fi
echo "export CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
