#!/usr/bin/env bash
# Build kubetune's images with whichever builder this machine has: docker (with a daemon), else buildah, else podman.
#
#   images/build.sh [operator] [trainer-cpu] [trainer-gpu] [evaluator]   (make images; default: operator trainer-cpu)
#
# BASE_IMAGE   the Python 3.11 base: empty picks python:3.11-slim-bookworm when its registry answers, else a Debian
#              base built here with debootstrap (images/base/build-debian-base.sh)
# REGISTRY     image names' prefix (ghcr.io/kubetune); VERSION their tag (the chart's appVersion)
# WHEELHOUSE   a directory holding the torch CPU wheel; used instead of the PyTorch index when it has one
# PIP_CERT     a CA bundle pip must trust (a TLS-intercepting proxy's); mounted for the build, never stored
set -euo pipefail
cd "$(dirname "$0")/.."

REGISTRY="${REGISTRY:-ghcr.io/kubetune}"
VERSION="${VERSION:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/kubetune/Chart.yaml)}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
REGISTRY_BASE="docker.io/library/python:3.11-slim-bookworm"
CUDA_BASE_NOTE="the GPU trainer builds FROM nvidia/cuda (images/trainer/Dockerfile), which needs its registry"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(operator trainer-cpu)

if [ -n "${BUILDER:-}" ]; then :
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then BUILDER=docker
elif command -v buildah >/dev/null; then BUILDER=buildah
elif command -v podman >/dev/null; then BUILDER=podman
else echo "no image builder: install docker, buildah or podman" >&2; exit 1
fi

if [ -z "${BASE_IMAGE:-}" ]; then
  if command -v skopeo >/dev/null && timeout 20 skopeo inspect --raw "docker://$REGISTRY_BASE" >/dev/null 2>&1; then
    BASE_IMAGE="$REGISTRY_BASE"
  elif [ "$BUILDER" = docker ]; then
    BASE_IMAGE="$REGISTRY_BASE"   # docker pulls it itself, or says why it cannot
  else
    echo "$REGISTRY_BASE is out of reach: building a Debian base with debootstrap"
    BASE_IMAGE="localhost/kubetune/debian-python:3.11-bookworm"
    BASE_IMAGE="$BASE_IMAGE" bash images/base/build-debian-base.sh
  fi
fi

# The torch CPU wheel, when a wheelhouse has it: the build mounts build/wheels (always present, maybe empty).
mkdir -p build/wheels
torch_index="https://download.pytorch.org/whl/cpu"
WHEELHOUSE="${WHEELHOUSE:-$(ls -d ../shared/wheels 2>/dev/null || true)}"
if [ -n "$WHEELHOUSE" ] && ls "$WHEELHOUSE"/torch-"$TORCH_VERSION"+cpu-*.whl >/dev/null 2>&1; then
  for wheel in "$WHEELHOUSE"/torch-"$TORCH_VERSION"+cpu-*.whl; do
    [ -e "build/wheels/$(basename "$wheel")" ] || cp "$wheel" build/wheels/
  done
  torch_index=""
fi

common=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
case "$BUILDER" in
  docker) build=(docker build) ;;
  # RUN steps in a chroot with host networking: no OCI runtime or cgroup setup, which sandboxes and CI runners often
  # refuse (here crun: "cgroups in hybrid mode not supported", runc: "error setting rlimit"); layers are cached.
  buildah) build=(buildah bud --layers --network host --isolation "${BUILDAH_ISOLATION:-chroot}") ;;
  podman) build=(podman build --layers --network host --isolation "${BUILDAH_ISOLATION:-chroot}") ;;
esac
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
  if [ "$BUILDER" = docker ]; then
    echo "PIP_CERT is set but docker build cannot mount it; pip will use the base image's CA bundle" >&2
  else
    common+=(--volume "$PIP_CERT:/run/kubetune-build/ca.crt:ro" --build-arg PIP_CERT=/run/kubetune-build/ca.crt)
  fi
fi

built=()
for target in "${targets[@]}"; do
  case "$target" in
    operator) file=images/operator/Dockerfile; tag="$REGISTRY/operator:$VERSION"; extra=() ;;
    evaluator) file=images/operator/Dockerfile; tag="$REGISTRY/evaluator:$VERSION"
               extra=(--build-arg "EXTRAS=evaluation") ;;
    trainer-cpu) file=images/trainer/Dockerfile.cpu; tag="$REGISTRY/trainer:$VERSION-cpu"
                 extra=(--build-arg "TORCH_VERSION=$TORCH_VERSION" --build-arg "TORCH_INDEX=$torch_index") ;;
    trainer-gpu) file=images/trainer/Dockerfile; tag="$REGISTRY/trainer:$VERSION"; extra=()
                 echo "note: $CUDA_BASE_NOTE" ;;
    *) echo "unknown image $target (operator, trainer-cpu, trainer-gpu, evaluator)" >&2; exit 2 ;;
  esac
  echo "== $target: $BUILDER, $file, base $BASE_IMAGE -> $tag"
  start=$(date +%s)
  if [ "$target" = trainer-gpu ]; then
    "${build[@]}" -f "$file" -t "$tag" .
  else
    "${build[@]}" "${common[@]}" "${extra[@]}" -f "$file" -t "$tag" .
  fi
  echo "== $target built in $(( $(date +%s) - start ))s"
  built+=("$tag")
done

echo "== sizes"
for tag in "${built[@]}"; do
  case "$BUILDER" in
    docker) size=$(docker image inspect --format '{{.Size}}' "$tag") ;;
    *) size=$(podman image inspect --format '{{.Size}}' "$tag") ;;
  esac
  printf '%s %s bytes (%s MB)\n' "$tag" "$size" "$(( size / 1000000 ))"
done
