#!/usr/bin/env bash
# make demo (until the real-node data plane lands): the local cluster, kemr's CRDs, the operator as a process,
# then a transient EMRCluster with two inline steps whose drivers are simulated by kwok — watched as it starts,
# runs its steps and terminates itself.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster/up.sh
eval "$(cluster/env.sh)"
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
log=$(mktemp -t kemr-operator.XXXX.log)
.venv/bin/kemr run --kubeconfig="$KUBECONFIG" --metrics-port=0 --health-port=18181 >"$log" 2>&1 &
operator=$!
trap 'kill $operator 2>/dev/null; kubectl delete namespace kemr-demo --wait=false >/dev/null 2>&1 || true' EXIT
kubectl create namespace kemr-demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n kemr-demo -f manifests/examples/emrcluster-transient-simulated.yaml
echo "operator log: $log — watching (Ctrl-C to stop)"
for _ in $(seq 1 90); do
  kubectl get emrclusters,emrsteps -n kemr-demo --no-headers 2>/dev/null | sed 's/^/  /'
  state=$(kubectl get emrcluster -n kemr-demo demo -o jsonpath='{.status.state}' 2>/dev/null || true)
  [[ $state == TERMINATED* ]] && { echo "cluster $state: $(kubectl get emrcluster -n kemr-demo demo -o jsonpath='{.status.stateChangeReason.code}')"; exit 0; }
  sleep 2; echo
done
echo "demo did not finish in time (operator log: $log)" >&2; exit 1
