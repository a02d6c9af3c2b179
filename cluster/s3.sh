#!/usr/bin/env bash
# The local cluster's S3: a real MinIO server (built from the Go module proxy) running on the host, reachable from
# pods through the host's address and, inside the cluster, as the Service s3.kemr-system.svc (no selector; its
# Endpoints name the host).
#   cluster/s3.sh build              build MinIO into the cache when missing (cold: ~10 min on 2 cores)
#   cluster/s3.sh up                 start it (idempotent); the Service is created when the apiserver is up
#   cluster/s3.sh down [--purge]     stop it; --purge also deletes its data and credentials
#   cluster/s3.sh status             print what runs; exit 1 when it doesn't
#   cluster/s3.sh env                the variables for clients (printed by cluster/env.sh)
#   cluster/s3.sh secret NS NAME     a Secret manifest holding the credentials, as a user hands them to an EMRCluster
# Settings: KEMR_S3_HOST (address pods use; default the host's primary IPv4 address), KEMR_S3_PORT (9000).
# Data survives cluster restarts (as S3 does): $KEMR_CLUSTER_HOME/s3/data; credentials, generated at the first
# start: $KEMR_CLUSTER_HOME/s3/credentials.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# MinIO publishes no semver tags: the proxy serves its commits as pseudo-versions. This one is the newest there
# (2026-02-12); its go.mod has no replace directives, so `go install` works with Go >= 1.24.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN=$KEMR_CACHE/bin/minio-$MINIO_VERSION
S3_HOME=$KEMR_CLUSTER_HOME/s3
S3_CREDENTIALS=$S3_HOME/credentials
S3_PORT=${KEMR_S3_PORT:-9000}
S3_NAMESPACE=kemr-system
S3_SERVICE=s3
S3_LOG=$KEMR_CLUSTER_HOME/logs/s3.log

# The address pods reach the host at: the source address of the default route (pods on the real node are
# NATed out of their bridge, so the host's primary address works from every network namespace).
s3_host() {
  if [ -n "${KEMR_S3_HOST:-}" ]; then echo "$KEMR_S3_HOST"; return; fi
  local addr
  addr=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
  echo "${addr:-127.0.0.1}"
}

s3_endpoint() { echo "http://$(s3_host):$S3_PORT"; }

# The MinIO serving this state directory (found by executable and data path: a pid file may be stale).
minio_pid() {
  local exe pid
  for exe in /proc/[0-9]*/exe; do
    pid=${exe#/proc/}; pid=${pid%/exe}
    [ "$(readlink "$exe" 2>/dev/null)" = "$MINIO_BIN/minio" ] || continue
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$S3_HOME/data" && echo "$pid"
  done
  return 0
}

build() {
  [ -x "$MINIO_BIN/minio" ] && return 0
  command -v go >/dev/null || die "Go is required to build MinIO (https://go.dev/dl)"
  log "building MinIO $MINIO_VERSION from the Go module proxy (cold: ~6 min on 2 cores)"
  local tmp=$MINIO_BIN.tmp
  mkdir -p "$tmp"
  CGO_ENABLED=0 GOFLAGS=-trimpath GOBIN=$tmp PROGRESS=go_packages_compiled run_logged minio \
    "$KEMR_CACHE/build-minio.log" go install -v -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION"
  mkdir -p "$MINIO_BIN" && mv "$tmp/minio" "$MINIO_BIN/minio" && rmdir "$tmp"
}

# Generated once and kept with the data: the data is only readable with the credentials it was written with.
ensure_credentials() {
  [ -s "$S3_CREDENTIALS" ] && return 0
  mkdir -p "$S3_HOME"
  umask 077
  printf 'KEMR_S3_ACCESS_KEY_ID=kemr%s\nKEMR_S3_SECRET_ACCESS_KEY=%s\n' \
    "$(openssl rand -hex 8)" "$(openssl rand -hex 20)" >"$S3_CREDENTIALS.tmp"
  mv "$S3_CREDENTIALS.tmp" "$S3_CREDENTIALS"
  log "S3 credentials generated: $S3_CREDENTIALS"
}

credential() {  # KEY
  sed -n "s/^$1=//p" "$S3_CREDENTIALS"
}

kubectl_() { "$KUBE_BIN/kubectl" --kubeconfig="$KUBECONFIG_PATH" "$@"; }

# s3.kemr-system.svc: a Service without selector whose Endpoints are the host, so pods use a stable name.
apply_service() {
  if ! { [ -f "$KUBECONFIG_PATH" ] && kubectl_ get --raw /readyz >/dev/null 2>&1; }; then
    log "apiserver not up: Service $S3_SERVICE.$S3_NAMESPACE not created (cluster/up.sh creates it)"
    return 0
  fi
  local host; host=$(s3_host)
  case "$host" in
    127.*) log "warning: S3 host $host is a loopback address, which Endpoints refuse; set KEMR_S3_HOST"; return 0 ;;
  esac
  # Endpoints, not an EndpointSlice: the controller-manager mirrors it, and every kube-proxy version reads it
  # (kubectl's deprecation warning on v1 Endpoints is dropped; other errors still show).
  kubectl_ apply --server-side --field-manager=kemr-cluster -f - 2> >(grep -v 'v1 Endpoints is deprecated' >&2) \
    >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $S3_NAMESPACE}
---
apiVersion: v1
kind: Service
metadata: {name: $S3_SERVICE, namespace: $S3_NAMESPACE, labels: {app.kubernetes.io/name: kemr-s3}}
spec:
  ports: [{name: http, port: $S3_PORT, targetPort: $S3_PORT, protocol: TCP}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: $S3_SERVICE, namespace: $S3_NAMESPACE, labels: {app.kubernetes.io/name: kemr-s3}}
subsets:
- addresses: [{ip: "$host"}]
  ports: [{name: http, port: $S3_PORT, protocol: TCP}]
EOF
}

up() {
  build
  ensure_credentials
  if [ -z "$(minio_pid)" ]; then
    mkdir -p "$S3_HOME/data" "$(dirname "$S3_LOG")"
    log "starting MinIO on :$S3_PORT (pods reach it at $(s3_endpoint); data: $S3_HOME/data)"
    # All interfaces: pods come from the bridge of the real node, the host's tools from loopback. Credentials
    # through the environment, not the command line (visible to every user in ps).
    (
      export MINIO_ROOT_USER MINIO_ROOT_PASSWORD MINIO_BROWSER=off MINIO_UPDATE=off
      MINIO_ROOT_USER=$(credential KEMR_S3_ACCESS_KEY_ID)
      MINIO_ROOT_PASSWORD=$(credential KEMR_S3_SECRET_ACCESS_KEY)
      start_detached "$S3_LOG" "$MINIO_BIN/minio" server --quiet --address ":$S3_PORT" "$S3_HOME/data"
    )
    local deadline=$((SECONDS + 30))
    until curl -fsS -o /dev/null "http://127.0.0.1:$S3_PORT/minio/health/ready" 2>/dev/null; do
      [ -n "$(minio_pid)" ] || { tail -20 "$S3_LOG" >&2; die "MinIO exited at start (log: $S3_LOG)"; }
      [ $SECONDS -lt $deadline ] || die "MinIO not ready after 30 s (log: $S3_LOG)"
      sleep 0.3
    done
  fi
  apply_service
}

down() {
  local pid; pid=$(minio_pid)
  if [ -n "$pid" ]; then
    log "stopping MinIO (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ "${1:-}" = --purge ]; then rm -rf "$S3_HOME"; log "S3 data and credentials removed"; fi
}

status() {
  local pid; pid=$(minio_pid)
  [ -n "$pid" ] || { echo "s3: not running"; return 1; }
  echo "s3: MinIO pid $pid, $(s3_endpoint) (in cluster: http://$S3_SERVICE.$S3_NAMESPACE.svc:$S3_PORT), data $S3_HOME/data"
}

env_() {
  printf 'export KEMR_S3_ENDPOINT=%q\n' "$(s3_endpoint)"
  printf 'export KEMR_S3_CLUSTER_ENDPOINT=%q\n' "http://$S3_SERVICE.$S3_NAMESPACE.svc:$S3_PORT"
  printf 'export KEMR_S3_CREDENTIALS=%q\n' "$S3_CREDENTIALS"
}

secret() {  # NAMESPACE NAME: the keys an EMRCluster's s3.credentials.secretRef reads by default
  [ $# -eq 2 ] || die "usage: cluster/s3.sh secret NAMESPACE NAME"
  [ -s "$S3_CREDENTIALS" ] || die "no S3 credentials yet: run cluster/s3.sh up (or make cluster)"
  cat <<EOF
apiVersion: v1
kind: Secret
metadata: {name: $2, namespace: $1}
type: Opaque
stringData:
  AWS_ACCESS_KEY_ID: $(credential KEMR_S3_ACCESS_KEY_ID)
  AWS_SECRET_ACCESS_KEY: $(credential KEMR_S3_SECRET_ACCESS_KEY)
EOF
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down "${2:-}" ;;
  status) status ;;
  env) env_ ;;
  secret) shift; secret "$@" ;;
  *) die "usage: cluster/s3.sh build|up|down [--purge]|status|env|secret NAMESPACE NAME" ;;
esac
