#!/usr/bin/env bash
# Build helm from the Go module proxy into a version-keyed cache outside the repo (reused when present).
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${KUBETUNE_CACHE:-$HOME/.cache/kubetune}"
BIN="$CACHE_ROOT/helm-$HELM_VERSION/helm"
if [ -x "$BIN" ]; then
  echo "helm cached at $BIN"
  exit 0
fi
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$CACHE_ROOT/helm-$HELM_VERSION.partial"
mkdir -p "$GOBIN"
echo "building helm $HELM_VERSION"
go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
mkdir -p "$(dirname "$BIN")"
mv "$GOBIN/helm" "$BIN"
rmdir "$GOBIN"
echo "built $BIN"
