#!/usr/bin/env bash
# Build a Debian base image with Python 3.11 from Debian's own packages (debootstrap), and import it into the local
# container storage as $BASE_IMAGE. For machines that reach Debian's archive but no container registry; elsewhere
# the images build FROM python:3.11-slim. The root file system is cached outside the repository and reused.
#
#   images/base/build-debian-base.sh            # -> localhost/kubetune/debian-python:3.11-bookworm
set -euo pipefail

SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_IMAGE="${BASE_IMAGE:-localhost/kubetune/debian-python:3.11-$SUITE}"
CACHE_ROOT="${KUBETUNE_CACHE:-$HOME/.cache/kubetune}"
ROOTFS="$CACHE_ROOT/images/debian-$SUITE-rootfs"
# What python:3.11-slim gives the Containerfiles: an interpreter with venv and TLS roots. Nothing else.
PACKAGES="python3.11,python3.11-venv,python3-venv,ca-certificates,tzdata"

command -v debootstrap >/dev/null || { echo "debootstrap is required (apt-get install debootstrap)" >&2; exit 1; }
command -v podman >/dev/null || { echo "podman is required to import the base (apt-get install podman)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }

if podman image exists "$BASE_IMAGE"; then
  echo "base image $BASE_IMAGE present"
  exit 0
fi

if [ ! -x "$ROOTFS/usr/bin/python3.11" ]; then
  rm -rf "$ROOTFS.partial"
  mkdir -p "$(dirname "$ROOTFS")"
  echo "debootstrap $SUITE (minbase + $PACKAGES) into $ROOTFS"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS.partial" "$MIRROR"
  # An image needs no package lists, caches or documentation.
  chroot "$ROOTFS.partial" apt-get clean
  rm -rf "$ROOTFS.partial"/var/lib/apt/lists/* "$ROOTFS.partial"/var/cache/apt/*.bin \
         "$ROOTFS.partial"/usr/share/doc/* "$ROOTFS.partial"/usr/share/man/* "$ROOTFS.partial"/usr/share/info/* \
         "$ROOTFS.partial"/var/log/*.log "$ROOTFS.partial"/var/log/apt/*
  mv "$ROOTFS.partial" "$ROOTFS"
fi

# python:3.11-slim answers to `python`; Debian's package installs only `python3`.
tar --numeric-owner -C "$ROOTFS" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$BASE_IMAGE"
echo "imported $BASE_IMAGE"
