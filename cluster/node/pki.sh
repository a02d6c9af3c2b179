#!/usr/bin/env bash
# The real node's certificates, signed by the cluster CA (cluster/pki.sh runs this; each is made once):
#   kubelet-client   system:node:<node> in system:nodes: the Node authorizer lets the kubelet see its own pods
#   kubelet-serving  the kubelet's HTTPS endpoint (logs, exec), verified by the apiserver against the CA
#   kube-proxy       system:kube-proxy, bound to system:node-proxier by the default RBAC
#   apiserver-kubelet-client  how the apiserver authenticates to the kubelet (system:masters: the kubelet's
#                    webhook authorizer then allows it everything)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$PKI"
[ -f ca.key ] || die "no cluster CA in $PKI: run cluster/pki.sh"

# sign NAME SUBJECT EXTENSIONS : key + certificate, skipped when the certificate exists
sign() {
  [ -f "$1.crt" ] && return 0
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 \
    -extfile "$1.ext" 2>/dev/null
  chmod 600 "$1.key"
  rm -f "$1.csr" "$1.ext"
}

sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" 'extendedKeyUsage=clientAuth'
sign kubelet-serving "/CN=$NODE_NAME" "extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
sign kube-proxy "/CN=system:kube-proxy" 'extendedKeyUsage=clientAuth'
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" 'extendedKeyUsage=clientAuth'
