#!/usr/bin/env bash
# images/build.sh [spark|operator|trino|notebook|all]: build kemr's container images without Docker or a registry.
# `all` is what `make demo` needs: spark and operator. Trino's and the notebook's images are built only when named
# (`images/build.sh trino`, by what needs it: the Trino tests; `images/build.sh notebook`, which builds FROM the
# spark image: that one is built first when its inputs changed, or pulled from its archive into buildah's storage).
#
# Runs the very Dockerfiles users with Docker build (images/spark/Dockerfile, images/operator/Dockerfile,
# images/trino/Dockerfile, images/notebook/Dockerfile) with `buildah bud --isolation chroot`, on a Debian base made here with debootstrap
# (passed as the BASE build-arg in place of debian:<suite>-slim: bookworm, trixie for Trino's; see lib.sh).
# Everything comes from Debian's mirror, Maven Central and PyPI.
# Each image is written to $KEMR_CACHE/images/kemr-<name>-<inputs hash>.oci.tar (an OCI archive tagged with the
# image's name) and linked as kemr-<name>.oci.tar; an image whose inputs did not change is not rebuilt.
# KEMR_IMAGES_REBUILD=1 rebuilds anyway (e.g. to pick up Debian security updates).
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() {
  echo "usage: images/build.sh [spark|operator|trino|notebook|all]  (all = spark + operator; trino, notebook only when named)" >&2
  exit 2
}

ensure_tools() {  # buildah and debootstrap, from Debian (the one list: cluster/install-deps.sh)
  "$REPO_DIR/cluster/install-deps.sh" images
  [ -x "$UV" ] || die "uv not found ($UV): run scripts/setup.sh (make demo and make test do)"
}

# A hash of files' contents and paths relative to their folder (and of any extra words), to name what a build was
# made from: the same sources give the same name in any checkout (CI clones into a new folder every run).
inputs_hash() {
  local extra=$1 dir
  shift
  {
    echo "$extra"
    for dir in "$@"; do (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum); done
  } | sha256sum | cut -c1-16
}

# The BASE image: a minimal Debian $DEBIAN_SUITE made with debootstrap, as debian:<suite>-slim is (no docs, man
# pages or locales). Keyed by the suite and this recipe; the name is printed on stdout. The suite is a variable
# the caller may set for one call (DEBIAN_SUITE=trixie ensure_base), not an argument: the recipe's key hashes these
# functions' text, and a changed key would rebuild every image built on the base.
ensure_base() {
  local recipe key tag rootfs ctr mnt
  recipe="$DEBIAN_SUITE minbase $(declare -f ensure_base make_base_rootfs | sha256sum)"
  key=$(echo "$recipe" | sha256sum | cut -c1-12)
  tag="localhost/kemr-debian:$DEBIAN_SUITE-$key"
  if [ -n "${KEMR_IMAGES_REBUILD:-}" ] || ! bah inspect --type image "$tag" >/dev/null 2>&1; then
    rootfs=$IMAGES_CACHE/base-rootfs.tmp
    log "base image: debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR, about 2 min"
    run_logged "debootstrap" "$KEMR_CACHE/build-image-base.log" make_base_rootfs "$rootfs"
    ctr=$(bah from --quiet scratch)
    mnt=$(bah mount "$ctr")
    cp -a "$rootfs/." "$mnt/"
    bah umount "$ctr" >/dev/null
    bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$ctr"
    bah commit --quiet --rm "$ctr" "$tag" >/dev/null
    rm -rf "$rootfs"
    log "base image $tag ready"
  fi
  echo "$tag"
}

make_base_rootfs() {
  local rootfs=$1
  rm -rf "$rootfs"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR"
  # As the slim images: packages installed later leave out docs, man pages and translations.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/excludes" <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EXCLUDES
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/99kemr-no-recommends"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/hostname"
}

# build_image NAME TAG CONTEXT BASE [ARG=VALUE...]: bud the context's Dockerfile unless an archive of the same
# inputs exists. Each ARG=VALUE is one more build-arg, and an input (in the hash) as BASE is (without any, the hash
# is what it was before they existed).
build_image() {
  local name=$1 tag=$2 context=$3 base=$4 key archive start digest logf arg
  shift 4
  local -a build_args=(--build-arg "BASE=$base")
  for arg in "$@"; do build_args+=(--build-arg "$arg"); done
  key=$(inputs_hash "$tag $base${*:+ $*}" "$context")
  archive=$IMAGES_CACHE/kemr-$name-$key.oci.tar
  if [ -f "$archive" ] && [ -z "${KEMR_IMAGES_REBUILD:-}" ]; then
    ln -sfn "$(basename "$archive")" "$(latest_archive "$name")"
    log "$tag: up to date ($archive)"
    return 0
  fi
  log "$tag: building from $context (inputs $key)"
  start=$SECONDS
  logf=$KEMR_CACHE/build-image-$name.log
  # The machine's own extra CAs (a TLS-inspecting proxy's), for the Dockerfiles' download stages only.
  local ca=""
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    ca=$(cat /usr/local/share/ca-certificates/*.crt)
  fi
  # buildah prints every RUN's output (apt, pip, Maven): into the log; a progress line shows its latest STEP.
  PROGRESS=buildah_step run_logged "$name image" "$logf" bah bud --isolation chroot --layers --pull=false "${build_args[@]}" \
    --build-arg "BUILD_CA=$ca" -f "$context/Dockerfile" -t "$tag" "$context"
  bah push --quiet "$tag" "oci-archive:$archive.tmp:$tag" >>"$logf" 2>&1 || die "$tag: buildah push failed (log: $logf)"
  mv "$archive.tmp" "$archive"
  ln -sfn "$(basename "$archive")" "$(latest_archive "$name")"
  # Older archives of this image, and intermediate layers no tag needs, are dead weight (GBs of jars).
  find "$IMAGES_CACHE" -maxdepth 1 -name "kemr-$name-*.oci.tar" ! -name "$(basename "$archive")" -delete
  bah rmi --prune >/dev/null 2>&1 || true
  digest=$(python3 "$IMAGES_DIR/oci.py" digest "$archive")
  log "$tag: built in $((SECONDS - start)) s, $(du -m "$archive" | cut -f1) MiB archive, manifest $digest"
}

buildah_step() {  # LOG of `buildah bud`: the Dockerfile step it is at ("STEP 7/15: RUN ...")
  grep -aoE 'STEP [0-9]+/[0-9]+: .*' "$1" | tail -n 1 | cut -c1-90
}

# The operator's build context: the kemr wheel and the locked runtime dependencies (with hashes).
operator_context() {
  local ctx=$IMAGES_CACHE/context/operator
  rm -rf "$ctx"
  mkdir -p "$ctx/dist"
  cp "$IMAGES_DIR/operator/Dockerfile" "$ctx/"
  (cd "$REPO_DIR" && "$UV" export --quiet --frozen --no-dev --no-emit-project --format requirements-txt -o "$ctx/requirements.txt")
  (cd "$REPO_DIR" && SOURCE_DATE_EPOCH=315532800 "$UV" build --quiet --wheel --out-dir "$ctx/dist")
  echo "$ctx"
}

# The spark image in buildah's storage, for the notebook image's FROM: built by build_image when its inputs changed,
# else the storage's own if it is the archive's image, else pulled from the archive (a storage made anew, or another
# image under the tag). Sets SPARK_IMAGE_ID to its image ID (the digest of its configuration, the same in the archive
# and in storage): the notebook image is built FROM that ID, and a new spark image is a new input of it.
ensure_spark_image() {
  local base=$1 archive have
  build_image spark "$SPARK_IMAGE" "$IMAGES_DIR/spark" "$base"
  archive=$(latest_archive "spark")
  SPARK_IMAGE_ID=$(python3 "$IMAGES_DIR/oci.py" id "$archive") || die "$archive: no image ID"
  have=$(bah inspect --type image --format '{{.FromImageID}}' "$SPARK_IMAGE" 2>/dev/null || true)
  if [ "sha256:$have" != "$SPARK_IMAGE_ID" ]; then
    log "$SPARK_IMAGE: loading $archive into buildah's storage"
    bah pull --quiet "oci-archive:$archive" >/dev/null || die "$SPARK_IMAGE: buildah pull oci-archive:$archive failed"
    bah tag "$SPARK_IMAGE_ID" "$SPARK_IMAGE" || die "$SPARK_IMAGE: buildah tag failed"
  fi
}

main() {
  local what=${1:-all} base context
  case "$what" in spark | operator | trino | notebook | all) ;; *) usage ;; esac
  ensure_tools
  mkdir -p "$IMAGES_CACHE" "$BUILDAH_ROOT" "$BUILDAH_RUNROOT"
  if [ "$what" = trino ]; then
    base=$(DEBIAN_SUITE=$TRINO_DEBIAN_SUITE ensure_base)
    build_image trino "$TRINO_IMAGE" "$IMAGES_DIR/trino" "$base"
    return 0
  fi
  base=$(ensure_base)
  if [ "$what" = notebook ]; then
    ensure_spark_image "$base"
    build_image notebook "$NOTEBOOK_IMAGE" "$IMAGES_DIR/notebook" "$base" "SPARK_IMAGE=$SPARK_IMAGE_ID"
    return 0
  fi
  if [ "$what" = spark ] || [ "$what" = all ]; then
    build_image spark "$SPARK_IMAGE" "$IMAGES_DIR/spark" "$base"
  fi
  if [ "$what" = operator ] || [ "$what" = all ]; then
    # Assigned first, not passed as "$(...)": a failing substitution in an argument list would not stop the run.
    context=$(operator_context) || die "preparing the operator's build context failed (uv export / uv build above)"
    build_image operator "$(operator_image)" "$context" "$base"
  fi
}

main "$@"
