#!/usr/bin/env bash
# Builds KubeRay's ray-operator (the peer that bench/compare.py runs beside kemr) from the Go module proxy into the
# version-keyed cache, with the module's CRDs beside it, only when missing. Prints the binary's path:
#   $KEMR_CACHE/bench/kuberay-$KUBERAY_VERSION/ray-operator
#   $KEMR_CACHE/bench/kuberay-$KUBERAY_VERSION/crds/ray.io_{rayclusters,rayjobs,rayservices}.yaml
# The version is pinned in cluster/versions.env. First build: 2-10 min on 2 cores (9.5 min on 2026-12-01 on the
# 2-core VM beside a busy local cluster; go's output in ~/.cache/kemr/build-kuberay.log); later runs only check
# that both are there.
set -euo pipefail
. "$(dirname "$0")/../../cluster/lib.sh"

MODULE=github.com/ray-project/kuberay/ray-operator
out=$KEMR_CACHE/bench/kuberay-$KUBERAY_VERSION

built() { [ -x "$out/ray-operator" ] && compgen -G "$out/crds/ray.io_*.yaml" >/dev/null; }

build() {
  command -v go >/dev/null || die "Go is required to build KubeRay's ray-operator (https://go.dev/dl)"
  log "building $MODULE@$KUBERAY_VERSION into $out"
  local work dir
  mkdir -p "$KEMR_CACHE/bench"
  work=$(mktemp -d "$KEMR_CACHE/bench/kuberay-build.XXXXXX")
  # shellcheck disable=SC2064  # $work is fixed now
  trap "rm -rf '$work'" EXIT
  # The module cache is read-only and `go install M@v` is only right for modules without replace directives:
  # build in a writable copy of the module, as its own main module (its go.mod and go.sum as released).
  dir=$(cd "$work" && go mod download -json "$MODULE@$KUBERAY_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -d "$dir" ] || die "go mod download gave no module directory for $MODULE@$KUBERAY_VERSION"
  cp -r "$dir" "$work/src" && chmod -R u+w "$work/src"
  mkdir -p "$work/out/crds"
  (cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false PROGRESS=go_packages_compiled \
    run_logged ray-operator "$KEMR_CACHE/build-kuberay.log" \
    go build -v -trimpath -ldflags "-s -w" -o "$work/out/ray-operator" .)
  cp "$work/src"/config/crd/bases/*.yaml "$work/out/crds/"
  rm -rf "$out" && mv "$work/out" "$out"
  # Builds of other versions are never used again.
  find "$KEMR_CACHE/bench" -maxdepth 1 -name 'kuberay-v*' ! -path "$out" -exec rm -rf {} +
}

built || build
echo "$out/ray-operator"
