#!/usr/bin/env bash
# Builds one of the GitOps check tools (a Go main package with its own go.mod under gitops/) into the cache, only
# when its source changed: $KEMR_CACHE/bin/<tool>-<hash of the source>/<tool>. Prints the binary's path.
#   gitops/build-go-tool.sh kstatus-check             kstatus (Flux, cli-utils) on kemr objects
#   gitops/build-go-tool.sh argocd/gopher-lua-check   Argo CD's Lua interpreter on the health scripts
# First build of kstatus-check: ~130 MB of modules from the Go module proxy, ~75 s on 2 cores (go prints each
# download, into ~/.cache/kemr/build-kstatus-check.log); gopher-lua-check: ~3 MB, ~25 s.
set -euo pipefail
. "$(dirname "$0")/../cluster/lib.sh"
[ $# -eq 1 ] || die "usage: $0 kstatus-check|argocd/gopher-lua-check"
SRC=$(cd "$(dirname "$0")/$1" && pwd)
tool=$(basename "$SRC")

hash=$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC"/*.go | sha256sum | cut -c1-12)
out=$KEMR_CACHE/bin/$tool-$hash
if [ ! -x "$out/$tool" ]; then
  command -v go >/dev/null || die "Go is required to build $tool (https://go.dev/dl)"
  log "building $tool into $out"
  mkdir -p "$out.tmp"
  (cd "$SRC" && CGO_ENABLED=0 run_logged "$tool" "$KEMR_CACHE/build-$tool.log" \
    go build -trimpath -ldflags "-s -w" -o "$out.tmp/$tool" .)
  mkdir -p "$out" && mv "$out.tmp/$tool" "$out/" && rmdir "$out.tmp"
  # Builds of older sources are never used again.
  find "$KEMR_CACHE/bin" -maxdepth 1 -name "$tool-*" ! -path "$out" -exec rm -rf {} +
fi
echo "$out/$tool"
