#!/usr/bin/env bash
# images/import.sh [spark|operator|trino|notebook|all]: put the images images/build.sh made into the real node's containerd
# (namespace k8s.io, where the kubelet looks), so pods run them with no registry. `all` is spark + operator (what
# `make demo` needs); Trino's and the notebook's images are imported only when named (`images/import.sh trino`, by the
# Trino tests; `images/import.sh notebook`). An image already there with
# the same manifest digest is left alone: re-running is cheap. Needs the real node up (make cluster).
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() {
  echo "usage: images/import.sh [spark|operator|trino|notebook|all]  (all = spark + operator; trino, notebook only when named)" >&2
  exit 2
}

kctr() { ctr --address "$KEMR_CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# The digest containerd has for image NAME, or nothing.
present_digest() {
  kctr images ls "name==$1" | awk 'NR > 1 { print $3 }'
}

import_image() {
  local name=$1 archive ref digest start
  archive=$(latest_archive "$name")
  [ -e "$archive" ] || die "no $archive: build it first with images/build.sh $name"
  ref=$(python3 "$IMAGES_DIR/oci.py" name "$archive")
  digest=$(python3 "$IMAGES_DIR/oci.py" digest "$archive")
  if [ "$(present_digest "$ref")" = "$digest" ]; then
    log "$ref: already on the node ($digest)"
    return 0
  fi
  log "$ref: importing $(du -mL "$archive" | cut -f1) MiB into containerd (k8s.io)"
  start=$SECONDS
  # The archive is tagged with the full name (buildah push oci-archive:FILE:NAME), which ctr keeps.
  kctr images import "$archive" >/dev/null
  [ "$(present_digest "$ref")" = "$digest" ] || die "$ref: containerd does not list $digest after the import"
  log "$ref: imported in $((SECONDS - start)) s ($digest)"
}

main() {
  local what=${1:-all}
  case "$what" in spark | operator | trino | notebook | all) ;; *) usage ;; esac
  command -v ctr >/dev/null || die "ctr not found (the real node installs containerd: make cluster)"
  [ -S "$KEMR_CONTAINERD_SOCK" ] || die "no containerd at $KEMR_CONTAINERD_SOCK: is the real node up? (make cluster)"
  if [ "$what" = spark ] || [ "$what" = all ]; then import_image spark; fi
  if [ "$what" = operator ] || [ "$what" = all ]; then import_image operator; fi
  if [ "$what" = trino ]; then import_image trino; fi
  if [ "$what" = notebook ]; then import_image notebook; fi
}

main "$@"
