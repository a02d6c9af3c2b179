#!/usr/bin/env bash
# Builds every binary the local cluster needs from the Go module proxy into the version-keyed cache.
# Each component is built only when its binary is missing. First run: ~1.5 GB of modules and 20-30 min on 2 cores.
#   cluster/build.sh            control plane, kubectl, etcd, kwok, helm
#   cluster/build.sh node       also kubelet, kube-proxy and CoreDNS (the real node)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export CGO_ENABLED=0 GOFLAGS=-trimpath

# A `go build -v` with its output in LOG: a progress line a minute (packages compiled), the log's tail on failure.
with_progress() {  # WHAT LOG CMD...
  PROGRESS=go_packages_compiled run_logged "$@"
}

kube_ldflags() {
  local v=${KUBE_VERSION#v} flags="-s -w" pkg
  local major=${v%%.*} rest=${v#*.}; local minor=${rest%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  echo "$flags"
}

build_kube() {  # $@: cmd names under k8s.io/kubernetes/cmd
  local missing=() c
  for c in "$@"; do [ -x "$KUBE_BIN/$c" ] || missing+=("k8s.io/kubernetes/cmd/$c"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  log "building Kubernetes $KUBE_VERSION: ${missing[*]##*/} (cold: 20-30 min on 2 cores)"
  mkdir -p "$KUBE_BIN.tmp"
  (cd "$CLUSTER_DIR/gobuild" && with_progress kubernetes "$KEMR_CACHE/build-kube.log" \
    go build -v -tags selinux,notest -ldflags "$(kube_ldflags)" -o "$KUBE_BIN.tmp/" "${missing[@]}")
  mkdir -p "$KUBE_BIN" && mv "$KUBE_BIN.tmp"/* "$KUBE_BIN/" && rmdir "$KUBE_BIN.tmp"
}

build_etcd() {
  [ -x "$ETCD_BIN/etcd" ] && return 0
  log "building etcd $ETCD_VERSION"
  mkdir -p "$ETCD_BIN"
  (cd "$CLUSTER_DIR/gobuild" && with_progress etcd "$KEMR_CACHE/build-etcd.log" \
    go build -v -ldflags "-s -w" -o "$ETCD_BIN/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$ETCD_BIN/etcd.tmp" "$ETCD_BIN/etcd"
}

go_install() {  # $1 dir, $2 binary, $3 module path@version
  [ -x "$1/$2" ] && return 0
  log "building $2 from $3"
  mkdir -p "$1"
  GOBIN="$1.tmp" with_progress "$2" "$KEMR_CACHE/build-$2.log" go install -v -ldflags "-s -w" "$3"
  mv "$1.tmp/$2" "$1/$2" && rmdir "$1.tmp"
}

# Our own small helpers (cluster/gobuild/cmd/*), keyed by a hash of their source and the module's go.sum.
build_helpers() {
  [ -x "$TOOLS_BIN/hostpath-provisioner" ] && return 0
  log "building hostpath-provisioner"
  mkdir -p "$TOOLS_BIN"
  (cd "$CLUSTER_DIR/gobuild" && with_progress hostpath-provisioner "$KEMR_CACHE/build-tools.log" \
    go build -v -ldflags "-s -w" -o "$TOOLS_BIN/" ./cmd/hostpath-provisioner)
  # Builds for older sources of the helpers are never used again.
  find "$KEMR_CACHE/bin" -maxdepth 1 -name 'tools-*' ! -path "$TOOLS_BIN" -exec rm -rf {} +
}

main() {
  command -v go >/dev/null || die "Go is required (https://go.dev/dl); the machine's toolchain builds everything"
  mkdir -p "$KEMR_CACHE"
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  [ "${1:-}" = node ] && cmds+=(kubelet kube-proxy)
  build_kube "${cmds[@]}"
  build_etcd
  build_helpers
  go_install "$KWOK_BIN" kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  go_install "$HELM_BIN" helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  "$CLUSTER_DIR/s3.sh" build  # the local S3 server (MinIO)
  [ "${1:-}" = node ] && go_install "$COREDNS_BIN" coredns "github.com/coredns/coredns@$COREDNS_VERSION"
  log "binaries ready under $KEMR_CACHE/bin"
}

main "$@"
