#!/usr/bin/env bash
# Installs the real node's Debian packages when missing: containerd, runc, the CNI plugins, iptables, conntrack,
# busybox-static (the test image) and gcc's static libc (the pause binary). Needs root; ~40 MB download.
# Package scripts must not start a system containerd: ours runs as a cluster process (cluster/node/up.sh).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

PACKAGES=(containerd runc containernetworking-plugins iptables conntrack busybox-static libc6-dev gcc)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || die "the real node needs root to install: ${missing[*]} (or run with KEMR_REAL_NODE=0)"
log "installing ${missing[*]} from apt"
# policy-rc.d 101 = "action forbidden": no package may start its daemon here.
policy=/usr/sbin/policy-rc.d; created_policy=false
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=true; fi
trap '$created_policy && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed ${missing[*]}"
