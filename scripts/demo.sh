#!/usr/bin/env bash
# make demo-simulated (no real node needed): the local cluster, kemr's CRDs, the operator as a process, then a
# transient EMRCluster with two inline steps whose drivers are simulated by kwok — watched as it starts, runs its
# steps and terminates itself. Its own namespace, kemr-demo-simulated: kemr-demo is the real demo's (make demo),
# watched by the Helm-installed operator.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster/up.sh
eval "$(cluster/env.sh)"
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
log=$(mktemp -t kemr-operator.XXXX.log)
.venv/bin/kemr run --kubeconfig="$KUBECONFIG" --metrics-port=0 --health-port=18181 >"$log" 2>&1 &
operator=$!
trap 'kill $operator 2>/dev/null; kubectl delete namespace kemr-demo-simulated --wait=false >/dev/null 2>&1 || true' EXIT
kubectl create namespace kemr-demo-simulated --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n kemr-demo-simulated -f manifests/examples/emrcluster-transient-simulated.yaml
echo "operator log: $log — watching (Ctrl-C to stop)"
for _ in $(seq 1 90); do
  kubectl get emrclusters,emrsteps -n kemr-demo-simulated --no-headers 2>/dev/null | sed 's/^/  /'
  state=$(kubectl get emrcluster -n kemr-demo-simulated demo -o jsonpath='{.status.state}' 2>/dev/null || true)
  [[ $state == TERMINATED* ]] && { echo "cluster $state: $(kubectl get emrcluster -n kemr-demo-simulated demo -o jsonpath='{.status.stateChangeReason.code}')"; exit 0; }
  sleep 2; echo
done
echo "demo did not finish in time (operator log: $log)" >&2; exit 1
