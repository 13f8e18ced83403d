#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the Go module proxy
# into a version-keyed cache outside the repo. Reused when present.
#
# k8s.io/kubernetes requires every staging module at v0.0.0 and replaces it with ./staging/..., which the
# module zip lacks, so a wrapper module replaces each one with its published v0.X.Y.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-$(cat "$(dirname "$0")/kube-version")}"
CACHE_ROOT="${KUBETUNE_CACHE:-$HOME/.cache/kubetune}"
BIN_DIR="$CACHE_ROOT/kube-$KUBE_VERSION"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

have_all() {
  for b in "${BINARIES[@]}"; do [ -x "$BIN_DIR/$b" ] || return 1; done
}
if have_all; then
  echo "kube binaries cached in $BIN_DIR"
  exit 0
fi

command -v go >/dev/null || { echo "go is required to build the control plane" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
WORK="$CACHE_ROOT/build-$KUBE_VERSION"
mkdir -p "$WORK" "$BIN_DIR.partial"
cd "$WORK"

staging_minor="v0.${KUBE_VERSION#v1.}"
kube_mod_json=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION")
kube_gomod=$(printf '%s' "$kube_mod_json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[ -f "$kube_gomod" ] || { echo "could not find go.mod of k8s.io/kubernetes@$KUBE_VERSION" >&2; exit 1; }
go_line=$(grep -m1 '^go ' "$kube_gomod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$kube_gomod")

{
  echo "module kubetune.local/kubebin"
  echo
  echo "$go_line"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  # Every k8s.io module pinned at v0.0.0 is a staging module.
  awk '$2=="v0.0.0" && $1 ~ /^k8s\.io\// {print $1}' "$kube_gomod" | sort -u | while read -r m; do
    echo "	$m => $m $staging_minor"
  done
  echo ")"
} > go.mod
cat > tools.go <<GO
//go:build tools

package kubebin

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
echo "resolving modules for k8s.io/kubernetes@$KUBE_VERSION (staging $staging_minor)"
go mod tidy -e >/dev/null 2>tidy.log || { cat tidy.log >&2; exit 1; }
echo "building control plane binaries into $BIN_DIR (this takes a while on a cold cache)"
# Stamp the version, as Kubernetes' own build does, so that /version and kubectl's skew checks read it.
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
version_pkg=k8s.io/component-base/version
ldflags="-s -w -X $version_pkg.gitVersion=$KUBE_VERSION -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$minor"
ldflags="$ldflags -X $version_pkg.gitTreeState=clean -X $version_pkg.buildDate=1970-01-01T00:00:00Z"
go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR.partial/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl

# etcd in its own module, at the version Kubernetes asks for.
ETCD_WORK="$WORK/etcd"
mkdir -p "$ETCD_WORK"
cd "$ETCD_WORK"
cat > go.mod <<MOD
module kubetune.local/etcdbin

$go_line

require go.etcd.io/etcd/server/v3 $etcd_version
MOD
cat > tools.go <<GO
//go:build tools

package etcdbin

import _ "go.etcd.io/etcd/server/v3"
GO
go mod tidy -e >/dev/null 2>tidy.log || { cat tidy.log >&2; exit 1; }
go build -trimpath -ldflags "-s -w" -o "$BIN_DIR.partial/etcd" go.etcd.io/etcd/server/v3

mkdir -p "$BIN_DIR"
mv "$BIN_DIR.partial"/* "$BIN_DIR"/
rmdir "$BIN_DIR.partial"
echo "built: $(ls "$BIN_DIR" | tr '\n' ' ') in $BIN_DIR"
