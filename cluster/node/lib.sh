# Settings of the real node (kubelet + containerd on this machine); sourced by cluster/lib.sh, not run.
# shellcheck shell=bash disable=SC2034  # its variables are for the scripts that source it
NODE_NAME=${KEMR_REAL_NODE_NAME:-kemr-real-0}
COREDNS_BIN=$KEMR_CACHE/bin/coredns-$COREDNS_VERSION
# Node state that survives `down.sh` (the image store, so big imported images are not lost) ...
NODE_CACHE=$KEMR_CACHE/node
CONTAINERD_ROOT=$NODE_CACHE/containerd
NODE_IMAGES=$NODE_CACHE/images
SYSCTLS_SAVED=$NODE_CACHE/sysctl.saved  # the machine's kernel settings before the first real node
# ... and state that does not (pods, kubelet volumes, CNI allocations, sandboxes).
NODE_HOME=$KEMR_CLUSTER_HOME/node
KUBELET_ROOT=/var/lib/kemr-kubelet
CONTAINERD_STATE=/run/kemr/containerd/state
CNI_STATE=/run/kemr/cni
# The pod network: one Linux bridge; the host's address on it is also the node's and the apiserver's address
# for pods, so nothing of the cluster has to listen on the machine's external interface.
NODE_BRIDGE=kemr0
POD_CIDR=10.244.0.0/24
NODE_IP=10.244.0.1
CLUSTER_DNS=10.96.0.10
# kubelet puts every pod under this cgroup (cgroupfs driver, cgroup v1): how status.sh and down.sh find them.
NODE_CGROUP=kemr
# Sandbox and DNS images, assembled locally (cluster/node/images.sh); no registry is reachable.
PAUSE_IMAGE=registry.k8s.io/pause:3.10
COREDNS_IMAGE=kemr.local/coredns:$COREDNS_VERSION
TEST_IMAGE=kemr.local/busybox:test

# Whether `make cluster` brings up the real node: KEMR_REAL_NODE=1|0, default on when the machine can (root, runc).
real_node_wanted() {
  case "${KEMR_REAL_NODE:-auto}" in
    0|false|no) return 1 ;;
    1|true|yes) return 0 ;;
  esac
  [ "$(id -u)" = 0 ] && [ -d /sys/fs/cgroup/memory ] && { command -v runc >/dev/null || command -v apt-get >/dev/null; }
}

# PIDs of the node's processes that run no cache binary: containerd and its shims (found by our socket) and every
# process in the pods' cgroup. kubelet and kube-proxy run from the cache and are listed by cluster_pids already.
node_pids() {
  local cmd pid
  for cmd in /proc/[0-9]*/cmdline; do
    pid=${cmd#/proc/}; pid=${pid%/cmdline}
    if grep -qaF -- "$KEMR_CONTAINERD_SOCK" "$cmd" 2>/dev/null; then echo "$pid"; continue; fi
    grep -qE "^[0-9]+:[^:]*pids[^:]*:/$NODE_CGROUP/" "/proc/$pid/cgroup" 2>/dev/null && echo "$pid"
  done
  return 0
}

# Extra kube-apiserver flags with the real node: pods reach the apiserver through the kubernetes Service, whose
# endpoint is the node's bridge address (the lease reconciler keeps it); the apiserver reaches kubelets for logs/exec.
node_apiserver_flags() {
  local pki=$KEMR_CLUSTER_HOME/pki
  printf '%s\n' --bind-address=0.0.0.0 --advertise-address="$NODE_IP" --endpoint-reconciler-type=lease \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=InternalIP
}

# What the real node leaves on the machine besides processes: mounts, the bridge and veths, KUBE-/CNI-/KEMR-
# iptables chains, the pods' cgroups. One line each; empty after cluster/node/down.sh.
node_leftovers() {
  awk '{print $2}' /proc/mounts | grep -E "^($KUBELET_ROOT|$CONTAINERD_ROOT|/run/kemr|/run/netns/cni-)" |
    sed 's/^/mount /' || true
  ip -o link show "$NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print "link " $2}' || true
  ip -o link show master "$NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print "link " $2}' || true
  local cmd table n
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle raw; do
      n=$($cmd -t "$table" -S 2>/dev/null | grep -cE '^-N (KUBE|CNI|KEMR)-' || true)
      [ "${n:-0}" -eq 0 ] || echo "$cmd $table: $n KUBE-/CNI-/KEMR- chains"
    done
  done
  n=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -name "$NODE_CGROUP" -type d 2>/dev/null | wc -l)
  [ "$n" -eq 0 ] || echo "cgroup /$NODE_CGROUP in $n hierarchies"
}
