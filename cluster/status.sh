#!/usr/bin/env bash
# Lists the local cluster's running processes (the real node's too: containerd, shims, containers) and what the
# real node leaves on the machine (mounts, network devices, iptables chains, cgroups); exits 1 when there is
# nothing (checks that nothing was left behind).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mapfile -t pids < <(cluster_pids)
mapfile -t leftovers < <(node_leftovers)
[ ${#pids[@]} -gt 0 ] || [ ${#leftovers[@]} -gt 0 ] || exit 1
for pid in "${pids[@]}"; do echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"; done
[ ${#leftovers[@]} -eq 0 ] || printf '%s\n' "${leftovers[@]}"
