# Shared settings for the local-cluster scripts; sourced, not run.
# shellcheck shell=bash
CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$CLUSTER_DIR/versions.env"

# Built binaries live outside the repo, keyed by version, so a version bump rebuilds only what changed.
KEMR_CACHE=${KEMR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kemr}
KUBE_BIN=$KEMR_CACHE/bin/kube-$KUBE_VERSION
ETCD_BIN=$KEMR_CACHE/bin/etcd-$ETCD_VERSION
KWOK_BIN=$KEMR_CACHE/bin/kwok-$KWOK_VERSION
HELM_BIN=$KEMR_CACHE/bin/helm-$HELM_VERSION
TOOLS_BIN=$KEMR_CACHE/bin/tools-$(cat "$CLUSTER_DIR"/gobuild/go.sum "$CLUSTER_DIR"/gobuild/cmd/*/*.go | sha256sum | cut -c1-12)

# Runtime state of the running cluster (data, logs, pids, certificates).
KEMR_CLUSTER_HOME=${KEMR_CLUSTER_HOME:-$KEMR_CACHE/cluster}
KUBECONFIG_PATH=${KEMR_KUBECONFIG:-$KEMR_CLUSTER_HOME/kubeconfig}
APISERVER_PORT=${KEMR_APISERVER_PORT:-6443}
ETCD_PORT=${KEMR_ETCD_PORT:-2379}
ETCD_PEER_PORT=${KEMR_ETCD_PEER_PORT:-2380}

# The real node (cluster/node/): our own containerd; images are imported into its k8s.io namespace with
#   ctr --address "$KEMR_CONTAINERD_SOCK" -n k8s.io images import <archive>
KEMR_CONTAINERD_SOCK=/run/kemr/containerd/containerd.sock
# shellcheck source=node/lib.sh
. "$CLUSTER_DIR/node/lib.sh"

# Runs CMD detached in its own session with output to LOG. Descriptors other than 0-2 are closed first: a caller
# that holds a lock on an inherited descriptor (`flock /tmp/kemr-test.lock cluster/up.sh`) must not pass it on to
# daemons that outlive it, or the lock stays held for as long as the cluster runs.
start_detached() {  # LOG CMD...
  local logf=$1; shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid "$@" >"$logf" 2>&1 </dev/null
  ) &
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# PIDs of processes running a cluster binary from the cache (kubectl and helm are clients, never left running by us).
cluster_pids() {
  local exe pid
  for exe in /proc/[0-9]*/exe; do
    pid=${exe#/proc/}; pid=${pid%/exe}
    case "$(readlink "$exe" 2>/dev/null)" in
      "$KEMR_CACHE"/bin/*/kubectl|"$KEMR_CACHE"/bin/*/helm) ;;
      "$KEMR_CACHE"/bin/*) echo "$pid" ;;
    esac
  done
  node_pids
}
