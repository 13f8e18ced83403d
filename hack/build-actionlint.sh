#!/usr/bin/env bash
# Build actionlint (the GitHub Actions workflow linter) from the Go module proxy into a version-keyed cache outside
# the repo (reused when present). Prints the binary's path.
set -euo pipefail
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
CACHE_ROOT="${KUBETUNE_CACHE:-$HOME/.cache/kubetune}"
BIN="$CACHE_ROOT/actionlint-$ACTIONLINT_VERSION/actionlint"
if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "go is required to build actionlint" >&2; exit 1; }
  export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$CACHE_ROOT/actionlint-$ACTIONLINT_VERSION.partial"
  mkdir -p "$GOBIN"
  go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2
  mkdir -p "$(dirname "$BIN")"
  mv "$GOBIN/actionlint" "$BIN"
  rmdir "$GOBIN"
fi
echo "$BIN"
