"""The admission webhook's TLS: one self-signed serving certificate shared by every operator replica.

The certificate lives in a Secret (type kubernetes.io/tls) in the operator's namespace, so replicas share it:
the first replica to start creates it (a create that loses the race reads the winner's), the others read it.
Its PEM is the CA bundle the apiserver trusts: the operator writes it into the webhooks of its
ValidatingWebhookConfiguration (the chart creates that object without a `caBundle`, as cert-manager's CA
injector and OPA Gatekeeper's cert-controller expect). No cert-manager needed; nothing to renew by hand: a
certificate with less than RENEW_BEFORE left is replaced at start and by the periodic check, the old one
staying in the bundle until it expires.

Generating the key and certificate is `cryptography`'s job (PyPI's standard for it), not ours.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kemr.runtime.client import ApiError, Client
from kemr.runtime.kinds import kind_named

log = logging.getLogger("kemr.webhook")

VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
# The apiserver of a host-process operator (tests, `kemr run` on a laptop) calls it on the loopback address.
LOOPBACK_NAMES = ("localhost", "127.0.0.1")
COMMON_NAME = "kemr-webhook"
BUNDLE_KEEP = 3  # certificates in the CA bundle: the current one and the two before it


@dataclass(frozen=True)
class ServingCert:
    """PEM bytes of a certificate and its private key (PKCS#8, unencrypted)."""

    cert_pem: bytes
    key_pem: bytes

    def not_after(self) -> dt.datetime:
        return x509.load_pem_x509_certificate(self.cert_pem).not_valid_after_utc

    def due(self, now: dt.datetime) -> bool:
        """True when it expires within RENEW_BEFORE of `now` (UTC)."""
        return self.not_after() - now < RENEW_BEFORE

    def names(self) -> set[str]:
        """The DNS names and IP addresses it is valid for (its SANs)."""
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return set(sans.get_values_for_type(x509.DNSName)) | {
            str(ip) for ip in sans.get_values_for_type(x509.IPAddress)
        }


def generate(dns_names: Sequence[str], now: dt.datetime) -> ServingCert:
    """A self-signed ECDSA P-256 certificate for `dns_names` (and LOOPBACK_NAMES), valid VALIDITY from `now`.

    Self-signed and marked as a CA, so the apiserver can use it as its own trust anchor (caBundle).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    names = list(dict.fromkeys([*dns_names, *LOOPBACK_NAMES]))
    # The names are in the SANs (what TLS checks); the subject's CN is limited to 64 characters, which a
    # Service's DNS name in a long namespace exceeds.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate clock skew with the apiserver
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return ServingCert(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def canonical_names(names: Sequence[str]) -> set[str]:
    """Names as the certificate's SANs hold them: IP addresses in their canonical form (`fd00::10`)."""
    out = set()
    for name in names:
        try:
            out.add(str(ipaddress.ip_address(name)))
        except ValueError:
            out.add(name)
    return out


def ca_bundle(current: ServingCert, previous_bundle: bytes, now: dt.datetime) -> bytes:
    """The PEM bundle to trust: the current certificate, plus the newest BUNDLE_KEEP - 1 of `previous_bundle`
    not yet expired (so a replica still serving an older certificate is trusted until it restarts). An
    unreadable previous bundle is dropped."""
    kept = [current.cert_pem]
    try:
        previous = x509.load_pem_x509_certificates(previous_bundle) if previous_bundle else []
    except ValueError:
        previous = []
    for cert in previous:
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if pem not in kept and cert.not_valid_after_utc > now and len(kept) < BUNDLE_KEEP:
            kept.append(pem)
    return b"".join(kept)


def _usable(cert: ServingCert, dns_names: Sequence[str], now: dt.datetime) -> bool:
    """Readable, its key matching, not due for renewal, and valid for every name this replica is called by."""
    try:
        key = serialization.load_pem_private_key(cert.key_pem, password=None)
        matches = key.public_key() == x509.load_pem_x509_certificate(cert.cert_pem).public_key()
        return matches and not cert.due(now) and canonical_names(dns_names) <= cert.names()
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return False  # hand-made or damaged: replaced


def _secret(name: str, namespace: str, cert: ServingCert, bundle: bytes) -> dict[str, object]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "kemr"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": b64(cert.cert_pem), "tls.key": b64(cert.key_pem), "ca.crt": b64(bundle)},
    }


async def ensure_serving_cert(
    kube: Client, namespace: str, name: str, dns_names: Sequence[str]
) -> tuple[ServingCert, bytes]:
    """The shared certificate and CA bundle from Secret `namespace/name`, created or renewed when needed.

    Returns (certificate, CA bundle PEM). Raises ApiError when the Secret can't be read or written (RBAC:
    the chart grants get/update on this Secret and create on Secrets in its namespace).
    """
    secrets = kind_named("Secret")
    path = secrets.path(namespace, name)
    now = dt.datetime.now(dt.UTC)
    try:
        live = await kube.request("GET", path)
    except ApiError as err:
        if not err.not_found:
            raise
        cert = generate(dns_names, now)
        bundle = ca_bundle(cert, b"", now)
        try:
            await kube.request(
                "POST", secrets.collection(namespace), body=_secret(name, namespace, cert, bundle)
            )
            log.info(
                "webhook: created serving certificate %s/%s (expires %s)", namespace, name, cert.not_after()
            )
            return cert, bundle
        except ApiError as race:
            if not race.conflict:
                raise
            live = await kube.request("GET", path)  # another replica created it first: use theirs
    data = {k: base64.b64decode(v) for k, v in (live.get("data") or {}).items()}
    cert = ServingCert(data.get("tls.crt", b""), data.get("tls.key", b""))
    bundle = data.get("ca.crt", cert.cert_pem)
    if _usable(cert, dns_names, now):
        return cert, bundle
    # Expiring, damaged, or not valid for a name this replica is called by (the Service renamed): a new one.
    renewed = generate(dns_names, now)
    bundle = ca_bundle(renewed, bundle, now)
    body = _secret(name, namespace, renewed, bundle)
    body["metadata"] = {**body["metadata"], "resourceVersion": live["metadata"]["resourceVersion"]}  # type: ignore[dict-item]
    try:
        await kube.request("PUT", path, body=body)
    except ApiError as race:
        if not race.conflict:
            raise
        return await ensure_serving_cert(kube, namespace, name, dns_names)  # another replica renewed it
    log.info("webhook: renewed serving certificate %s/%s (expires %s)", namespace, name, renewed.not_after())
    return renewed, bundle


async def inject_ca_bundle(kube: Client, configuration: str, bundle: bytes) -> bool:
    """Writes `bundle` into every webhook of ValidatingWebhookConfiguration `configuration`.

    Returns False (and logs why) when that object doesn't exist: the webhook then isn't called and the
    reconcilers' own checks still apply. Raises ApiError on other API errors.
    """
    path = f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{configuration}"
    try:
        live = await kube.request("GET", path)
    except ApiError as err:
        if err.not_found:
            log.warning("webhook: ValidatingWebhookConfiguration %s not found: not called", configuration)
            return False
        raise
    encoded = base64.b64encode(bundle).decode()
    webhooks = [w for w in live.get("webhooks") or [] if w.get("clientConfig", {}).get("caBundle") != encoded]
    if webhooks:
        patch = {"webhooks": [{"name": w["name"], "clientConfig": {"caBundle": encoded}} for w in webhooks]}
        await kube.request("PATCH", path, body=patch, content_type=STRATEGIC_MERGE_PATCH)
        log.info("webhook: CA bundle written into %s (%d webhooks)", configuration, len(webhooks))
    return True
