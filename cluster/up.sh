#!/usr/bin/env bash
# Brings the local cluster up: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the kwok controller
# (simulated on-demand and spot node pools) and the hostpath volume provisioner, all as host processes.
# Builds missing binaries first (cluster/build.sh). Idempotent: a cluster that is already up is left alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ON_DEMAND_NODES=${KEMR_ON_DEMAND_NODES:-8}
SPOT_NODES=${KEMR_SPOT_NODES:-4}
KUBECTL=("$KUBE_BIN/kubectl" "--kubeconfig=$KUBECONFIG_PATH")

node_manifest() {  # POOL INDEX ZONE
  local pool=$1 name="kwok-$1-$2"
  cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $name
    node.kubernetes.io/instance-type: m5.8xlarge
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: $3
    karpenter.sh/capacity-type: $pool
    karpenter.sh/nodepool: $pool
spec:
$( [ "$pool" = spot ] && printf '  taints:\n  - {key: karpenter.sh/capacity-type, value: spot, effect: NoSchedule}\n' )
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "250", ephemeral-storage: 500Gi}
  capacity: {cpu: "32", memory: 128Gi, pods: "250", ephemeral-storage: 500Gi}
NODE
}

nodes_manifest() {
  local i zones=(local-a local-b)
  for ((i = 0; i < ON_DEMAND_NODES; i++)); do node_manifest on-demand "$i" "${zones[i % 2]}"; done
  for ((i = 0; i < SPOT_NODES; i++)); do node_manifest spot "$i" "${zones[i % 2]}"; done
}

is_up() { [ -f "$KUBECONFIG_PATH" ] && "${KUBECTL[@]}" get --raw /readyz >/dev/null 2>&1; }

main() {
  local start=$SECONDS
  if is_up; then log "cluster already up (KUBECONFIG=$KUBECONFIG_PATH)"; return 0; fi
  "$CLUSTER_DIR/down.sh" --quiet  # clear what a crashed run may have left
  "$CLUSTER_DIR/build.sh"
  mkdir -p "$KEMR_CACHE/bin/current"
  ln -sf "$KUBE_BIN/kubectl" "$HELM_BIN/helm" "$KEMR_CACHE/bin/current/"
  "$CLUSTER_DIR/pki.sh"
  mkdir -p "$LOGS" "$KEMR_CLUSTER_HOME/volumes"
  write_kubeconfig "$KUBECONFIG_PATH" admin
  write_kubeconfig "$KEMR_CLUSTER_HOME/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$KEMR_CLUSTER_HOME/scheduler.kubeconfig" scheduler

  local node_flags=()  # the real node (cluster/node/): its network comes first, the apiserver advertises it
  if real_node_wanted; then "$CLUSTER_DIR/node/up.sh" network; mapfile -t node_flags < <(node_apiserver_flags); fi

  log "starting etcd $ETCD_VERSION"
  start_proc etcd "$ETCD_BIN/etcd" --name=kemr --data-dir="$KEMR_CLUSTER_HOME/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="kemr=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls="" \
    --quota-backend-bytes=4294967296 --auto-compaction-retention=1 --unsafe-no-fsync
  wait_for etcd 30 "$ETCD_BIN/etcd" --version  # binary sanity; the apiserver waits for etcd itself

  log "starting kube-apiserver $KUBE_VERSION on https://127.0.0.1:$APISERVER_PORT"
  # Loopback only: nothing outside this machine can reach the cluster. The endpoint reconciler is off because
  # Endpoints may not hold a loopback address; in-cluster clients of the apiserver come with the real node.
  start_proc kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --endpoint-reconciler-type=none \
    --service-cluster-ip-range=10.96.0.0/16 \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --authorization-mode=Node,RBAC --allow-privileged=true --profiling=false \
    --max-requests-inflight=800 --max-mutating-requests-inflight=400 "${node_flags[@]}"
  wait_for kube-apiserver 90 "${KUBECTL[@]}" get --raw /readyz

  log "starting kube-controller-manager, kube-scheduler, kwok $KWOK_VERSION, hostpath-provisioner"
  start_proc kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$KEMR_CLUSTER_HOME/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$KEMR_CLUSTER_HOME/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$KEMR_CLUSTER_HOME/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --kube-api-qps=200 --kube-api-burst=400
  start_proc kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig="$KEMR_CLUSTER_HOME/scheduler.kubeconfig" \
    --authentication-kubeconfig="$KEMR_CLUSTER_HOME/scheduler.kubeconfig" \
    --authorization-kubeconfig="$KEMR_CLUSTER_HOME/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false
  start_proc kwok "$KWOK_BIN/kwok" --kubeconfig="$KUBECONFIG_PATH" --config="$CLUSTER_DIR/manifests/kwok-stages.yaml"
  start_proc hostpath-provisioner "$TOOLS_BIN/hostpath-provisioner" --kubeconfig="$KUBECONFIG_PATH" \
    --root="$KEMR_CLUSTER_HOME/volumes"

  "${KUBECTL[@]}" apply -f "$CLUSTER_DIR/manifests/storageclass.yaml" >/dev/null
  nodes_manifest | "${KUBECTL[@]}" apply -f - >/dev/null
  log "waiting for $ON_DEMAND_NODES on-demand + $SPOT_NODES spot kwok nodes"
  wait_for "kwok nodes" 60 "${KUBECTL[@]}" wait --for=condition=Ready node -l type=kwok --timeout=5s
  wait_for "default service account" 60 "${KUBECTL[@]}" get serviceaccount default -n default
  if real_node_wanted; then "$CLUSTER_DIR/node/up.sh" start; else log "real node skipped (KEMR_REAL_NODE=0 or not root)"; fi
  log "cluster up in $((SECONDS - start)) s"
  log "  use it with:  eval \"\$(cluster/env.sh)\"; kubectl get nodes -L karpenter.sh/capacity-type"
}

main "$@"
"$CLUSTER_DIR/s3.sh" up  # the local S3 server and its Service, also when the cluster was already up
