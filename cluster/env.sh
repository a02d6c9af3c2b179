#!/usr/bin/env bash
# Prints the environment for using the local cluster:  eval "$(cluster/env.sh)"
set -euo pipefail
. "$(dirname "$0")/lib.sh"
printf 'export KEMR_BIN=%q\n' "$KEMR_CACHE/bin/current"
printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_PATH"
# shellcheck disable=SC2016
printf 'export PATH="$KEMR_BIN:$PATH"\n'
"$CLUSTER_DIR/s3.sh" env  # KEMR_S3_ENDPOINT, KEMR_S3_CLUSTER_ENDPOINT, KEMR_S3_CREDENTIALS
