#!/usr/bin/env bash
# Installs everything `make demo` and `make test` need, in the order they need it; both run it first, so they can't
# drift apart. Idempotent: each stage is a quick check when its result is already there.
#   scripts/setup.sh          all stages
#   scripts/setup.sh python   uv and the locked Python environment (.venv) only (make venv)
# Stages (cold on 2 cores, see README): 1 uv + .venv, 2 Debian packages, 3 the local cluster's binaries (Kubernetes,
# etcd, kwok, helm, MinIO; with the real node also kubelet, kube-proxy, CoreDNS), 4 the real node's small images,
# 5 kemr's images (data plane and operator). Without the real node (KEMR_REAL_NODE=0, or not root) 2, 4 and 5 are
# skipped. One line per stage when it ends, one a minute while it runs; the full output of stage N is in
# ~/.cache/kemr/build-<stage>.log, and a failing stage prints its log's tail and stops the run naming that log.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../cluster/lib.sh
. "$REPO/cluster/lib.sh"   # KEMR_CACHE, UV, UV_VERSION, run_logged, real_node_wanted, log, die

install_python() {  # uv (pinned) with pip --user when ours is missing or another version, then .venv from uv.lock
  # (a uv of the user's own, $UV or on PATH, is used as it is)
  if [ "$UV" = "$HOME/.local/bin/uv" ] && { [ ! -x "$UV" ] || [ "$("$UV" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; }; then
    # --force-reinstall: pip's record of a uv whose binary was deleted would otherwise make this a no-op.
    python3 -m pip install --quiet --user --disable-pip-version-check --force-reinstall "uv==$UV_VERSION"
  fi
  [ -x "$UV" ] || die "uv not found at $UV after installing it"
  (cd "$REPO" && "$UV" sync --frozen --quiet)
}

stage() {  # N NAME WHAT CMD... : one stage, its output in ~/.cache/kemr/build-NAME.log
  local n=$1 name=$2 what=$3; shift 3
  log "setup $n/5: $what"
  run_logged "setup $n/5 ($name)" "$KEMR_CACHE/build-$name.log" "$@"
}

main() {
  local start=$SECONDS node=""
  mkdir -p "$KEMR_CACHE"
  stage 1 python "uv $UV_VERSION and the locked Python environment (.venv)" install_python
  [ "${1:-}" = python ] && return 0
  if real_node_wanted; then
    node=node
    stage 2 packages "Debian packages: containerd, runc, CNI plugins, iptables, buildah, debootstrap" \
      "$CLUSTER_DIR/install-deps.sh" all
  else
    log "setup 2/5: skipped (no real node: KEMR_REAL_NODE=0, or not root)"
  fi
  stage 3 cluster "the local cluster's binaries from the Go module proxy (cold: ~15 min)" "$CLUSTER_DIR/build.sh" $node
  if [ -n "$node" ]; then
    stage 4 node-images "the real node's images (pause, CoreDNS, busybox)" "$CLUSTER_DIR/node/images.sh" build
    stage 5 images "kemr's images, data plane and operator (cold: ~4 min)" "$REPO/images/build.sh" all
  else
    log "setup 4/5, 5/5: skipped (no real node)"
  fi
  log "setup: everything in place ($((SECONDS - start)) s); logs: $KEMR_CACHE/build-*.log"
}

main "$@"
