#!/usr/bin/env bash
# Lists the local cluster's running processes; exits 1 when there are none (checks that nothing was left behind).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mapfile -t pids < <(cluster_pids)
[ ${#pids[@]} -gt 0 ] || exit 1
for pid in "${pids[@]}"; do echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"; done
