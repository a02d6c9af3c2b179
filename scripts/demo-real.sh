#!/usr/bin/env bash
# The demo on real containers (`make demo`): the local cluster with its real node and S3 server, the
# data-plane and operator images, the operator installed with its Helm chart, then a transient EMRCluster that
# runs one PySpark step — total sales of completed orders per customer — writes the result to S3 and terminates
# itself. Each stage says what is missing when its prerequisite isn't there. It leaves the cluster, the operator
# release (kemr in kemr-system) and the finished EMRCluster in place to look at; a second run replaces the
# EMRCluster and reuses the rest.
#   scripts/demo-real.sh                       everything
#   KEMR_DEMO_SKIP_IMAGES=1 scripts/demo-real.sh   the images are already on the node
#   KEMR_DEMO_OPERATOR=process scripts/demo-real.sh  the operator as a host process (`kemr run`) with the chart
#                                                    values' configuration, instead of the Helm release
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
NAMESPACE=kemr-demo
CLUSTER=demo
BUCKET=kemr-demo
OUTPUT=s3://$BUCKET/output/sales_by_customer/
TIMEOUT_S=${KEMR_DEMO_TIMEOUT:-900}
start=$SECONDS

say() { printf '\n\033[1m== %s\033[0m  (%ds)\n' "$*" "$((SECONDS - start))"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
s3tool() { "$REPO/.venv/bin/python" "$REPO/scripts/demo/s3tool.py" "$@"; }

say "local cluster (control plane, kwok pools, real node, S3)"
cluster/up.sh
eval "$(cluster/env.sh)"
real_node=$(kubectl get nodes -l kemr.io/real-node=true -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
[[ $real_node == *=True* ]] || die "no Ready real node (kemr.io/real-node=true): the demo's pods need real containers.
  The real node comes up with the cluster on a root machine with runc (docs/real-node.md); check
  'cluster/status.sh' and ~/.cache/kemr/cluster/logs/kubelet.log, then: make cluster-down && make cluster"
cluster/s3.sh status || die "the S3 server is not running: cluster/s3.sh up (log: ~/.cache/kemr/cluster/logs/s3.log)"

if [ "${KEMR_DEMO_SKIP_IMAGES:-0}" != 1 ]; then
  say "images (data plane and operator) into the real node's containerd"
  [ -x images/build.sh ] && [ -x images/import.sh ] || die "images/build.sh and images/import.sh are missing"
  images/build.sh all || die "building the images failed (see above; images/build.sh all)"
  images/import.sh all || die "importing the images into the real node failed (images/import.sh all)"
fi

if [ "${KEMR_DEMO_OPERATOR:-helm}" = process ]; then
  say "operator (kemr run on the host, configuration from manifests/demo/values-local.yaml)"
  kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
  config=$(mktemp -t kemr-demo-config.XXXX.yaml)
  operator_log=$(mktemp -t kemr-demo-operator.XXXX.log)
  .venv/bin/python -c 'import sys, yaml; print(yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["config"]))' \
    manifests/demo/values-local.yaml >"$config"
  KEMR_CONFIG=$config .venv/bin/kemr run --kubeconfig="$KUBECONFIG" --metrics-port=0 --health-port=18182 \
    >"$operator_log" 2>&1 &
  operator_pid=$!
  trap 'kill $operator_pid 2>/dev/null || true' EXIT
  echo "  operator log: $operator_log"
else
  say "operator (Helm chart charts/kemr, values manifests/demo/values-local.yaml, watching $NAMESPACE)"
  [ -f charts/kemr/Chart.yaml ] || die "no Helm chart in charts/kemr"
  # The release watches only the demo's namespace, which must exist before the install (its Role goes there).
  # A second run upgrades the same release: a changed chart or image rolls out, an unchanged one is kept.
  kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  helm upgrade --install kemr charts/kemr --namespace kemr-system --create-namespace \
    -f manifests/demo/values-local.yaml --wait --timeout 3m ||
    die "the operator did not become ready: kubectl -n kemr-system describe pods; kubectl -n kemr-system logs deploy/kemr"
  kubectl -n kemr-system get pods -l app.kubernetes.io/instance=kemr -o wide | sed 's/^/  /'
fi

say "S3: bucket $BUCKET with the orders and the job"
s3tool mb "$BUCKET"
s3tool put scripts/demo/orders.csv "s3://$BUCKET/input/orders.csv"
s3tool put scripts/demo/sales_by_customer.py "s3://$BUCKET/jobs/sales_by_customer.py"
s3tool rm "$OUTPUT"  # the result shown below is this run's
echo "  $(wc -l <scripts/demo/orders.csv) lines -> s3://$BUCKET/input/orders.csv; job -> s3://$BUCKET/jobs/"

say "EMRCluster $CLUSTER (transient, 1 master, 1 core, 1 task, one inline step)"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# The credentials reach the cluster as a user hands them over: a Secret named in spec.s3.credentials.secretRef.
cluster/s3.sh secret "$NAMESPACE" kemr-s3 | kubectl apply -f - >/dev/null
if kubectl get emrcluster -n "$NAMESPACE" "$CLUSTER" >/dev/null 2>&1; then
  echo "  removing the previous run's EMRCluster"
  kubectl delete emrcluster -n "$NAMESPACE" "$CLUSTER" --wait=true --timeout=2m >/dev/null
fi
kubectl apply -n "$NAMESPACE" -f manifests/demo/emrcluster-demo.yaml

say "progress (cluster and step states as they change)"
last=""
deadline=$((SECONDS + TIMEOUT_S))
while :; do
  cluster_state=$(kubectl get emrcluster -n "$NAMESPACE" "$CLUSTER" -o jsonpath='{.status.state} {.status.readyGroups}' 2>/dev/null || true)
  steps=$(kubectl get emrsteps -n "$NAMESPACE" -l kemr.io/cluster="$CLUSTER" \
    -o jsonpath='{range .items[*]}{.metadata.name}={.status.state} {end}' 2>/dev/null || true)
  now="cluster $CLUSTER: ${cluster_state:-?}   steps: ${steps:-none yet}"
  [ "$now" = "$last" ] || printf '  [%4ds] %s\n' "$((SECONDS - start))" "$now"
  last=$now
  [[ $cluster_state == TERMINATED* ]] && break
  [ $SECONDS -lt $deadline ] || die "the cluster did not terminate within ${TIMEOUT_S}s: kubectl get emrc,emrs,pods -n $NAMESPACE"
  sleep 2
done

say "result: total completed sales per customer, read back from $OUTPUT"
# Checked against the input, computed without Spark: a wrong or missing row fails the demo (and CI).
"$REPO/.venv/bin/python" scripts/demo/check_result.py scripts/demo/orders.csv "$OUTPUT" ||
  die "the result in $OUTPUT is not what scripts/demo/orders.csv gives (above)"

say "termination"
kubectl get emrcluster -n "$NAMESPACE" "$CLUSTER" \
  -o jsonpath='  state {.status.state}: {.status.stateChangeReason.code} {.status.stateChangeReason.message}{"\n"}'
kubectl get emrsteps -n "$NAMESPACE" -l kemr.io/cluster="$CLUSTER" \
  -o jsonpath='{range .items[*]}  step {.metadata.name}: {.status.state}{"\n"}{end}'
daemons=$(kubectl get pods -n "$NAMESPACE" -l 'kemr.io/role in (master,core,task)' --no-headers 2>/dev/null | wc -l)
echo "  master/core/task pods left: $daemons (the step's finished driver pod stays, as a record)"
echo "  logs: $(s3tool ls "s3://$BUCKET/logs/" | grep -c . || true) objects under s3://$BUCKET/logs/ (driver logs, Spark event logs)"
echo "  the job's Spark UI, after the fact: kubectl emr ui $CLUSTER-sales -n $NAMESPACE (docs/spark-ui.md)"
say "done"
