#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing, in one apt run (needs root):
#   cluster/install-deps.sh node     the real node: containerd, runc, the CNI plugins, iptables, conntrack,
#                                    busybox-static (the test image), gcc's static libc (the pause binary)
#   cluster/install-deps.sh images   the image builds: buildah, debootstrap
#   cluster/install-deps.sh browser  the browser tests: Debian's Chromium and its chromedriver (the tests that
#                                    need them install them: tests/support/browser.py)
#   cluster/install-deps.sh all      node and images (scripts/setup.sh, before anything uses them)
# ~60 MB download. Package scripts must not start a system containerd: ours runs as a cluster process.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NODE_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack busybox-static libc6-dev gcc)
IMAGE_PACKAGES=(buildah debootstrap)
BROWSER_PACKAGES=(chromium chromium-driver)

case "${1:-all}" in
  node) wanted=("${NODE_PACKAGES[@]}") ;;
  images) wanted=("${IMAGE_PACKAGES[@]}") ;;
  browser) wanted=("${BROWSER_PACKAGES[@]}") ;;
  all) wanted=("${NODE_PACKAGES[@]}" "${IMAGE_PACKAGES[@]}") ;;
  *) die "usage: $0 [node|images|browser|all]" ;;
esac

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || die "installing ${missing[*]} needs root (apt-get install ${missing[*]}), or run with KEMR_REAL_NODE=0"
log "installing ${missing[*]} from apt"
# policy-rc.d 101 = "action forbidden": no package may start its daemon here.
policy=/usr/sbin/policy-rc.d; created_policy=false
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=true; fi
trap '$created_policy && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed ${missing[*]}"
