#!/usr/bin/env bash
# Assembles the real node's images locally (no registry is reachable) and imports them into our containerd:
#   registry.k8s.io/pause:3.10   the pod sandbox: Kubernetes' pause.c (from the module cache), compiled statically
#   kemr.local/coredns:<ver>     cluster DNS: the CoreDNS binary built by cluster/build.sh node
#   kemr.local/busybox:test      a tiny test image: Debian's busybox-static
# Archives are cached in $NODE_IMAGES under a hash of their inputs, so they are rebuilt only when an input changes.
# `images.sh build` only assembles; `images.sh` also imports (containerd running: cluster/node/up.sh calls it).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

PACK="python3 $CLUSTER_DIR/node/oci-pack.py"
CTR="ctr --address $KEMR_CONTAINERD_SOCK -n k8s.io"

inputs_hash() { cat "$CLUSTER_DIR/node/oci-pack.py" "$CLUSTER_DIR/node/images.sh" "$@" | sha256sum | cut -c1-12; }

pause_binary() {  # prints the path of the static pause binary, compiling it when its source changed
  local src out
  src=$(cd "$CLUSTER_DIR/gobuild" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/build/pause/linux/pause.c
  [ -f "$src" ] || die "pause.c not found at $src (is the Go module cache complete? run cluster/build.sh node)"
  out=$NODE_IMAGES/pause-$(inputs_hash "$src")
  if [ ! -x "$out" ]; then
    mkdir -p "$NODE_IMAGES"
    find "$NODE_IMAGES" -maxdepth 1 -name 'pause-*' -type f -delete
    gcc -Os -Wall -Werror -static -DVERSION="3.10-kemr" -o "$out.tmp" "$src" && strip "$out.tmp" && mv "$out.tmp" "$out"
  fi
  echo "$out"
}

# pack NAME FILE_INPUTS... -- PACKER_ARGS... : builds the archive unless one for the same inputs exists; prints it
pack() {
  local name=$1; shift
  local inputs=()
  while [ "$1" != -- ]; do inputs+=("$1"); shift; done
  shift
  local out
  out=$NODE_IMAGES/$(echo "$name" | tr '/:' '__')-$(inputs_hash "${inputs[@]}" <(echo "$name $*")).tar
  if [ ! -f "$out" ]; then
    log "assembling image $name"
    find "$NODE_IMAGES" -maxdepth 1 -name "$(echo "$name" | tr '/:' '__')-*.tar" -delete 2>/dev/null || true
    $PACK --name "$name" --out "$out" "$@"
  fi
  echo "$out"
}

busybox_links() {  # /bin/<applet>=busybox for every applet: a small but complete shell toolbox
  local a
  for a in $(/usr/bin/busybox --list); do
    [ "$a" = busybox ] || printf -- '--link\n/bin/%s=busybox\n' "$a"
  done
}

build_all() {  # prints the archives' paths
  local pause links
  pause=$(pause_binary)
  pack "$PAUSE_IMAGE" "$pause" -- --file "/pause=$pause" --entrypoint '["/pause"]' --user 65535:65535
  [ -x "$COREDNS_BIN/coredns" ] || die "CoreDNS not built ($COREDNS_BIN/coredns): run cluster/build.sh node"
  pack "$COREDNS_IMAGE" "$COREDNS_BIN/coredns" -- --file "/coredns=$COREDNS_BIN/coredns" --entrypoint '["/coredns"]'
  mapfile -t links < <(busybox_links)
  pack "$TEST_IMAGE" /usr/bin/busybox -- --file /bin/busybox=/usr/bin/busybox "${links[@]}" \
    --dir /tmp=1777 --entrypoint '["/bin/sh"]' --env PATH=/bin
}

main() {  # images.sh [build] : build only assembles the archives (no containerd needed)
  local archives a
  mapfile -t archives < <(build_all)
  [ ${#archives[@]} -eq 3 ] || die "image assembly failed"
  [ "${1:-}" = build ] && return 0
  [ -S "$KEMR_CONTAINERD_SOCK" ] || die "containerd is not running ($KEMR_CONTAINERD_SOCK); start the node first"
  for a in "${archives[@]}"; do $CTR images import "$a" >/dev/null; done
  log "images imported: $PAUSE_IMAGE $COREDNS_IMAGE $TEST_IMAGE"
}

main "$@"
