#!/usr/bin/env bash
# Makes the real node look like spot or on-demand capacity, as the kwok pools do (label and taint):
#   cluster/node/capacity.sh spot        karpenter.sh/capacity-type=spot + taint karpenter.sh/capacity-type=spot:NoSchedule
#   cluster/node/capacity.sh on-demand   back to the default
# The node's own taint (kemr.io/real-node=true:NoSchedule) stays either way.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
KUBECTL="$KUBE_BIN/kubectl --kubeconfig=$KUBECONFIG_PATH"
case "${1:-}" in
  spot)
    $KUBECTL label node "$NODE_NAME" --overwrite karpenter.sh/capacity-type=spot >/dev/null
    $KUBECTL taint node "$NODE_NAME" --overwrite karpenter.sh/capacity-type=spot:NoSchedule >/dev/null ;;
  on-demand)
    $KUBECTL label node "$NODE_NAME" --overwrite karpenter.sh/capacity-type=on-demand >/dev/null
    $KUBECTL taint node "$NODE_NAME" karpenter.sh/capacity-type- >/dev/null 2>&1 || true ;;
  *) die "usage: $0 spot|on-demand" ;;
esac
log "node $NODE_NAME is now $1 capacity"
