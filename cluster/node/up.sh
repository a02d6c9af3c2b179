#!/usr/bin/env bash
# Brings up the real node (kubelet + containerd + kube-proxy on this machine) and cluster DNS. Called by
# cluster/up.sh in two steps:
#   node/up.sh network   before the apiserver starts: the pod bridge (whose address the apiserver advertises to
#                        pods), the firewall that keeps the apiserver off the external interface, sysctls
#   node/up.sh start     once the apiserver is ready: containerd, images, kubelet, kube-proxy, CoreDNS
# node/up.sh prepare: the slow cached steps only (make cluster-build); node/up.sh runtime: containerd and the
# images only, e.g. to import images without a cluster.
# cluster/node/down.sh undoes all of it.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

KUBECTL=("$KUBE_BIN/kubectl" "--kubeconfig=$KUBECONFIG_PATH")
CTR=(ctr --address "$KEMR_CONTAINERD_SOCK")
# Kernel settings the node changes; down.sh restores the values saved here. The vm./kernel. ones are set by
# the kubelet itself (its "kernel tunables").
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes)

network() {
  "$CLUSTER_DIR/install-deps.sh" node  # iptables, ip6tables and the bridge tools are used right below
  mkdir -p "$NODE_HOME"
  local s
  # Saved once per machine (in the cache, not the run's state): a node that died without down.sh must not
  # make its own settings the ones restored later.
  if [ ! -f "$SYSCTLS_SAVED" ]; then
    mkdir -p "$NODE_CACHE"
    for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$SYSCTLS_SAVED"
  fi
  sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
  # The CNI bridge plugin adopts an existing bridge; creating it here gives the node its address before the
  # kubelet (which checks --node-ip) and the apiserver (which advertises it) start.
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ip link add "$NODE_BRIDGE" type bridge
  ip addr replace "$NODE_IP/${POD_CIDR#*/}" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # The apiserver listens on all addresses so pods can reach it on the bridge; only loopback and the pod
  # bridge may connect (the kubelet binds the bridge address only). IPv6 too: the socket is dual-stack.
  local ipt
  for ipt in iptables ip6tables; do
    $ipt -N KEMR-FIREWALL 2>/dev/null || $ipt -F KEMR-FIREWALL
    $ipt -A KEMR-FIREWALL -i lo -j RETURN
    $ipt -A KEMR-FIREWALL -i "$NODE_BRIDGE" -j RETURN
    $ipt -A KEMR-FIREWALL -p tcp --dport "$APISERVER_PORT" -j DROP
    $ipt -C INPUT -j KEMR-FIREWALL 2>/dev/null || $ipt -I INPUT -j KEMR-FIREWALL
  done
  # kubelet's cgroup root must exist in every v1 hierarchy.
  for s in /sys/fs/cgroup/*/; do
    if [ -f "${s}tasks" ]; then mkdir -p "$s$NODE_CGROUP"; fi
  done
}

write_configs() {
  mkdir -p "$NODE_HOME/cni" "$CONTAINERD_ROOT" "$CONTAINERD_STATE" "$CNI_STATE" "$KUBELET_ROOT"
  cat >"$NODE_HOME/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
[grpc]
  address = "$KEMR_CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This machine's root lacks CAP_SYS_RESOURCE: an oom_score_adj below containerd's own (the kubelet asks -998
  # for sandboxes) is refused by the kernel and runc fails; clamp it as rootless setups do.
  restrict_oom_score_adj = $( [ "$(( 0x$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24 & 1 ))" = 1 ] && echo false || echo true )
  # nothing can be pulled here: images are imported (cluster/node/images.sh)
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_HOME/cni"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_ROOT/opt"
EOF
  cat >"$NODE_HOME/cni/10-kemr.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "kemr",
  "plugins": [
    {"type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$CNI_STATE/ipam",
              "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  write_kubeconfig "$NODE_HOME/kubelet.kubeconfig" kubelet-client
  write_kubeconfig "$NODE_HOME/kube-proxy.kubeconfig" kube-proxy
  # Little is reserved: the machine is the node. The control plane runs beside it, outside the pods' cgroup.
  cat >"$NODE_HOME/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$PKI/kubelet-serving.crt"
tlsPrivateKeyFile: "$PKI/kubelet-serving.key"
containerRuntimeEndpoint: "unix://$KEMR_CONTAINERD_SOCK"
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
failSwapOn: false
clusterDNS: [$CLUSTER_DNS]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
maxPods: 110
systemReserved: {cpu: 100m, memory: 1Gi}
evictionHard: {memory.available: 256Mi, nodefs.available: 5%, imagefs.available: 5%}
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
serializeImagePulls: false
registerWithTaints:
- {key: kemr.io/real-node, value: "true", effect: NoSchedule}
EOF
  cat >"$NODE_HOME/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$NODE_HOME/kube-proxy.kubeconfig"}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the node's bridge address, never on the machine's external interface or loopback.
nodePortAddresses: ["$NODE_IP/32"]
iptables: {localhostNodePorts: false}
# 0: leave the machine's conntrack settings alone
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

node_ready() { "${KUBECTL[@]}" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }

prepare() {  # everything slow and cached: Debian packages, kubelet/kube-proxy/CoreDNS builds, image archives
  "$CLUSTER_DIR/install-deps.sh" node
  "$CLUSTER_DIR/build.sh" node
  "$CLUSTER_DIR/node/images.sh" build
}

runtime() {  # containerd with the node's images; no apiserver needed
  prepare
  network
  write_configs
  # (ctr waits 10 s to dial a socket that isn't there: look for the socket first)
  if ! { [ -S "$KEMR_CONTAINERD_SOCK" ] && "${CTR[@]}" --connect-timeout 2s version >/dev/null 2>&1; }; then
    log "starting containerd (socket $KEMR_CONTAINERD_SOCK)"
    mkdir -p "$LOGS"
    start_proc containerd containerd --config "$NODE_HOME/containerd.toml" --address "$KEMR_CONTAINERD_SOCK"
    wait_for containerd 30 "${CTR[@]}" --connect-timeout 1s version
  fi
  "$CLUSTER_DIR/node/images.sh"
}

start() {
  local t0=$SECONDS
  runtime
  log "starting the real node $NODE_NAME: kubelet, kube-proxy"
  start_proc kubelet "$KUBE_BIN/kubelet" --config="$NODE_HOME/kubelet.yaml" \
    --kubeconfig="$NODE_HOME/kubelet.kubeconfig" --root-dir="$KUBELET_ROOT" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --node-labels="karpenter.sh/capacity-type=on-demand,kemr.io/real-node=true,karpenter.sh/nodepool=real"
  start_proc kube-proxy "$KUBE_BIN/kube-proxy" --config="$NODE_HOME/kube-proxy.yaml"
  wait_for "node $NODE_NAME" 90 node_ready
  # The apiserver's own Service endpoint is the node address (lease reconciler); CoreDNS reads the API through it.
  sed "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|; s|@CLUSTER_DNS@|$CLUSTER_DNS|" "$CLUSTER_DIR/manifests/coredns.yaml" |
    "${KUBECTL[@]}" apply -f - >/dev/null
  # A real answer from the DNS Service, not the Deployment's status (stale after a restart of the node).
  wait_for "cluster DNS ($CLUSTER_DNS)" 90 busybox nslookup kubernetes.default.svc.cluster.local "$CLUSTER_DNS"
  log "real node $NODE_NAME ready with cluster DNS in $((SECONDS - t0)) s"
}

case "${1:-}" in
  network) network ;;
  prepare) if real_node_wanted; then prepare; fi ;;
  runtime) runtime ;;
  start) start ;;
  *) die "usage: $0 prepare|network|runtime|start" ;;
esac
