#!/usr/bin/env bash
# Creates the local cluster's certificates once: a CA, the apiserver's serving certificate, client certificates for
# the admin (system:masters), controller-manager and scheduler, and the service-account signing key.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The real node's certificates are added to an existing PKI too (cluster/node/pki.sh makes each one once).
[ -f "$PKI/.complete" ] && exec "$CLUSTER_DIR/node/pki.sh"
mkdir -p "$PKI" && cd "$PKI"

openssl_quiet() { openssl "$@" 2>/dev/null; }

openssl_quiet req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=kemr-local-ca"

# client_cert NAME CN [O]
client_cert() {
  local subj="/CN=$2"; [ -n "${3:-}" ] && subj="/O=$3$subj"
  openssl_quiet req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$subj"
  printf 'extendedKeyUsage=clientAuth\n' >"$1.ext"
  openssl_quiet x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 -extfile "$1.ext"
  rm -f "$1.csr" "$1.ext"
}

openssl_quiet req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
cat >apiserver.ext <<EXT
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EXT
openssl_quiet x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile apiserver.ext
rm -f apiserver.csr apiserver.ext

client_cert admin kemr-admin system:masters
client_cert controller-manager system:kube-controller-manager
client_cert scheduler system:kube-scheduler
openssl_quiet genrsa -out sa.key 2048
openssl_quiet rsa -in sa.key -pubout -out sa.pub
chmod 600 ./*.key
touch .complete
exec "$CLUSTER_DIR/node/pki.sh"
