#!/usr/bin/env bash
# Stops every process of the local cluster and removes its state (etcd data, volumes, kubeconfig).
# Certificates and logs are kept (logs are overwritten by the next start). --quiet: say nothing when nothing runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

quiet=false; [ "${1:-}" = --quiet ] && quiet=true

main() {
  "$CLUSTER_DIR/node/down.sh"  # the real node first: its pods, mounts, network and iptables chains
  # Found by executable path, not pid files: a pid file may be stale, a crashed start may have written none.
  mapfile -t pids < <(cluster_pids)
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping ${#pids[@]} cluster processes"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 40); do
      mapfile -t pids < <(alive "${pids[@]}")
      [ ${#pids[@]} -eq 0 ] && break
      sleep 0.25
    done
    [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null || true
  elif ! $quiet; then
    log "no cluster processes running"
  fi
  rm -rf "$KEMR_CLUSTER_HOME/etcd" "$KEMR_CLUSTER_HOME/volumes" "$KUBECONFIG_PATH"
  $quiet || log "cluster down"
}

main "$@"
