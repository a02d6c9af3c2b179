#!/usr/bin/env bash
# Builds kstatus-check (the kstatus library of Flux and cli-utils, run on kemr objects) into the cache, only when
# its source changed: $KEMR_CACHE/bin/kstatus-check-<hash of the source>/kstatus-check. Prints the binary's path.
# First build: ~130 MB of modules from the Go module proxy, ~75 s on 2 cores (go prints each download).
set -euo pipefail
. "$(dirname "$0")/../../cluster/lib.sh"
SRC=$(cd "$(dirname "$0")" && pwd)

hash=$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC"/*.go | sha256sum | cut -c1-12)
out=$KEMR_CACHE/bin/kstatus-check-$hash
if [ ! -x "$out/kstatus-check" ]; then
  command -v go >/dev/null || die "Go is required to build kstatus-check (https://go.dev/dl)"
  log "building kstatus-check (sigs.k8s.io/cli-utils kstatus) into $out"
  mkdir -p "$out.tmp"
  (cd "$SRC" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/kstatus-check" .) \
    || die "building kstatus-check failed"
  mkdir -p "$out" && mv "$out.tmp/kstatus-check" "$out/" && rmdir "$out.tmp"
  # Builds of older sources are never used again.
  find "$KEMR_CACHE/bin" -maxdepth 1 -name 'kstatus-check-*' ! -path "$out" -exec rm -rf {} +
  log "kstatus-check built"
fi
echo "$out/kstatus-check"
