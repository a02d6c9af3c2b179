# Shared settings for the local-cluster scripts; sourced, not run.
# shellcheck shell=bash disable=SC2034  # its variables are for the scripts that source it
# A command that fails inside "$(...)" stops the script as it would outside (bash leaves errexit off there).
shopt -s inherit_errexit
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
PKI=$KEMR_CLUSTER_HOME/pki    # the cluster CA and every certificate signed by it (cluster/pki.sh)
LOGS=$KEMR_CLUSTER_HOME/logs  # one log per process of the cluster
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
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid "$@" >"$logf" 2>&1 </dev/null
  ) &
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

start_proc() {  # NAME CMD... : runs CMD in its own session, detached from the caller, logging to $LOGS/NAME.log
  local name=$1; shift
  start_detached "$LOGS/$name.log" "$@"
}

wait_for() {  # WHAT TIMEOUT_S CMD... : retries CMD until it succeeds, else dies naming WHAT and the logs
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what not ready after ${timeout}s (logs: $LOGS)"
    sleep 0.5
  done
}

alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && echo "$p"; done; return 0; }  # PIDS still running

write_kubeconfig() {  # FILE CERT_NAME : a kubeconfig for $PKI/CERT_NAME.{crt,key}, the apiserver on loopback
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kemr-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$2.crt")
    client-key-data: $(base64 -w0 "$PKI/$2.key")
contexts:
- name: kemr-local
  context: {cluster: kemr-local, user: $2}
current-context: kemr-local
KC
  chmod 600 "$1"
}

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

# uv, found the same way by the Makefile and every script, never from the caller's PATH alone: $UV if set, else
# `uv` on PATH, else where scripts/setup.sh installs it (pip --user: ~/.local/bin/uv).
UV=${UV:-$(command -v uv 2>/dev/null || echo "$HOME/.local/bin/uv")}
# uv trusts the machine's certificate store (/etc/ssl/certs), as pip, Go and apt do, not only its built-in roots: a
# machine behind a TLS-inspecting proxy has that proxy's CA there, and nothing else in a login shell points to it.
export UV_SYSTEM_CERTS=${UV_SYSTEM_CERTS:-1}

# run_logged WHAT LOG CMD... : runs CMD with all its output in LOG and prints one line when it ends; while it runs,
# a line every $KEMR_PROGRESS_S (default 60) seconds with what $PROGRESS (a function given the log; default: the
# log's latest line) says. On failure: the log's last lines and an error naming WHAT and LOG, and the caller stops.
run_logged() {
  local what=$1 logf=$2; shift 2
  local start=$SECONDS every=${KEMR_PROGRESS_S:-60} pid next latest progress=${PROGRESS:-latest_line}
  mkdir -p "$(dirname "$logf")"
  "$@" >"$logf" 2>&1 </dev/null &
  pid=$!
  next=$((SECONDS + every))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ $SECONDS -ge $next ] && kill -0 "$pid" 2>/dev/null; then
      latest=$("$progress" "$logf" || true)
      log "  $what: $((SECONDS - start)) s${latest:+ … $latest}"
      next=$((SECONDS + every))
    fi
  done
  if ! wait "$pid"; then
    tail -n 25 "$logf" | sed 's/^/  | /' >&2
    die "$what failed after $((SECONDS - start)) s (full log: $logf)"
  fi
  log "  $what: done in $((SECONDS - start)) s"
}

latest_line() {  # LOG : its last non-empty line without colours or our timestamp, cut to 100 characters
  sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1" | grep -v '^[[:space:]]*$' | tail -n 1 | sed -E 's/^\[[0-9:]+\] //' |
    cut -c1-100
}

go_packages_compiled() {  # LOG of `go build -v` / `go install -v`: one line per compiled package
  echo "$(grep -vc '^go: ' "$1" || true) packages compiled"
}
