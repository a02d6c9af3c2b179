#!/usr/bin/env bash
# Takes the real node down and removes everything it made on the machine: its processes (kubelet, kube-proxy,
# containerd, shims, containers), mounts, the pod bridge and veths, network namespaces, iptables chains (KUBE-*,
# CNI-*, KEMR-*), the pods' cgroups, and restores the sysctls it changed. Called by cluster/down.sh before the
# control plane stops; safe to run when nothing is up. The image store ($CONTAINERD_ROOT) is kept.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

CTR="ctr --address $KEMR_CONTAINERD_SOCK -n k8s.io"

stop_pids() {  # SIGNAL PIDS... : signal, then wait up to 10 s and kill what is left
  local sig=$1; shift
  [ $# -gt 0 ] || return 0
  kill "-$sig" "$@" 2>/dev/null || true
  local pids=("$@")
  for _ in $(seq 1 40); do
    mapfile -t pids < <(alive "${pids[@]}")
    [ ${#pids[@]} -eq 0 ] && return 0
    sleep 0.25
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

exe_pids() {  # PATH : processes running this executable
  local exe pid
  for exe in /proc/[0-9]*/exe; do
    pid=${exe#/proc/}; pid=${pid%/exe}
    [ "$(readlink "$exe" 2>/dev/null)" = "$1" ] && echo "$pid"
  done
  return 0
}

remove_containers() {  # while containerd still runs: containers go with their snapshots (and overlay mounts)
  [ -S "$KEMR_CONTAINERD_SOCK" ] && $CTR --connect-timeout 2s version >/dev/null 2>&1 || return 0
  local id
  for id in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks kill -s KILL "$id" >/dev/null 2>&1 || true; done
  for id in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks delete -f "$id" >/dev/null 2>&1 || true; done
  for id in $($CTR containers ls -q 2>/dev/null); do $CTR containers delete "$id" >/dev/null 2>&1 || true; done
}

unmount_all() {  # every mount under the node's directories and the pods' network namespaces, deepest first
  local m
  mapfile -t mounts < <(awk '{print $2}' /proc/mounts | grep -E \
    "^($KUBELET_ROOT|$CONTAINERD_ROOT|/run/kemr|$KEMR_CLUSTER_HOME/node|/run/netns/cni-|/var/run/netns/cni-)" |
    sort -r)
  for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null || true; done
  rm -f /run/netns/cni-* 2>/dev/null || true
}

remove_iptables() {  # KUBE-* (kubelet, kube-proxy), CNI-* (bridge masquerade, portmap), KEMR-* (our firewall)
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle raw; do
      $cmd -t "$table" -S >/dev/null 2>&1 || continue
      # Jumps from the built-in chains first, then the chains themselves.
      while read -r rule; do
        eval "$cmd -t $table -D ${rule#-A }" 2>/dev/null || true
      done < <($cmd -t "$table" -S 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE|CNI|KEMR)-')
      mapfile -t chains < <($cmd -t "$table" -S 2>/dev/null | sed -nE 's/^-N ((KUBE|CNI|KEMR)-[^ ]+)$/\1/p')
      for chain in "${chains[@]}"; do $cmd -t "$table" -F "$chain" 2>/dev/null || true; done
      for chain in "${chains[@]}"; do $cmd -t "$table" -X "$chain" 2>/dev/null || true; done
    done
  done
}

remove_links() {
  local dev
  for dev in $(ip -o link show master "$NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$dev" 2>/dev/null || true
  done
  ip link delete "$NODE_BRIDGE" 2>/dev/null || true
}

remove_cgroups() {  # deepest first; a cgroup can only be removed once empty
  local root
  for root in /sys/fs/cgroup/*/"$NODE_CGROUP"; do
    [ -d "$root" ] && find "$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

restore_sysctls() {
  [ -f "$SYSCTLS_SAVED" ] || return 0
  local kv
  while read -r kv; do sysctl -q -w "$kv" 2>/dev/null || true; done <"$SYSCTLS_SAVED"
}

main() {
  # The kubelet first, so it restarts nothing; kube-proxy's own cleanup removes its rules.
  mapfile -t agents < <(exe_pids "$KUBE_BIN/kubelet"; exe_pids "$KUBE_BIN/kube-proxy")
  stop_pids TERM "${agents[@]}"
  if [ -x "$KUBE_BIN/kube-proxy" ] && [ -d "$NODE_HOME" ]; then "$KUBE_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  remove_containers
  mapfile -t rest < <(node_pids)
  stop_pids TERM "${rest[@]}"
  mapfile -t rest < <(node_pids)  # container processes whose shim died before them
  stop_pids KILL "${rest[@]}"
  unmount_all
  remove_links
  remove_iptables
  remove_cgroups
  restore_sysctls
  rm -rf "$KUBELET_ROOT" /run/kemr "$NODE_HOME"
}

main "$@"
