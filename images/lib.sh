# Shared by images/build.sh and images/import.sh; sourced, not run.
# shellcheck shell=bash disable=SC2034  # its variables are for the scripts that source it
IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$IMAGES_DIR/.." && pwd)
# shellcheck source=../cluster/lib.sh
. "$REPO_DIR/cluster/lib.sh"   # KEMR_CACHE, KEMR_CONTAINERD_SOCK, log, die

IMAGES_CACHE=$KEMR_CACHE/images
# buildah keeps its layers here, outside the repo and apart from any system-wide container storage.
BUILDAH_ROOT=$IMAGES_CACHE/storage
BUILDAH_RUNROOT=$IMAGES_CACHE/run
# The Debian release of the bases images/build.sh makes: bookworm for Spark's and the operator's images; trixie
# for Trino's (Trino 476 needs Java 24+, and trixie has openjdk-25).
DEBIAN_SUITE=bookworm
TRINO_DEBIAN_SUITE=trixie
DEBIAN_MIRROR=${KEMR_DEBIAN_MIRROR:-http://deb.debian.org/debian}

SPARK_IMAGE=ghcr.io/kemr-io/kemr-spark:kemr-1.0
TRINO_IMAGE=ghcr.io/kemr-io/kemr-trino:kemr-1.0
NOTEBOOK_IMAGE=ghcr.io/kemr-io/kemr-notebook:kemr-1.0
operator_image() {
  local version
  version=$(sed -nE 's/^__version__ = "([^"]+)"/\1/p' "$REPO_DIR/operator/kemr/__init__.py")
  [ -n "$version" ] || die "no __version__ in operator/kemr/__init__.py"
  echo "ghcr.io/kemr-io/kemr-operator:$version"
}

# The archive of image NAME (spark|operator|trino|notebook) last built: a symlink to the content-addressed archive.
latest_archive() { echo "$IMAGES_CACHE/kemr-$1.oci.tar"; }

bah() { buildah --root "$BUILDAH_ROOT" --runroot "$BUILDAH_RUNROOT" --storage-driver "${KEMR_BUILDAH_DRIVER:-overlay}" "$@"; }
