"""The validating admission webhook: a spec the operator could only fail is refused at `kubectl apply`.

The CRDs' schema and CEL rules catch what they can express. What needs the operator's own knowledge —
keys it owns in `configurations`, the sizing that needs its configuration (releases, daemon memory: "the Spark
worker would offer executors 0Mi") — used to be accepted and then fail seconds later as
TERMINATED_WITH_ERRORS / VALIDATION_ERROR. The webhook runs the very same checks as the reconcilers
(`review_cluster` calls `parse_spec`, `validate_cluster` and `resolve_cluster`; `review_step` calls
`validate_step`) before the object is stored, so both verdicts always agree.

A DataCatalog's delete is reviewed too: refused while EMRClusters use it (`review_delete`, from the watch
cache; the catalog's finalizer holds the deletion when no webhook answered).

What it does not refuse: checks that need other objects (a step's `actionOnFailure` against its cluster's
`stepConcurrency`) stay with the reconciler, and an update that leaves `spec` as it was (labels, finalizers,
deletion) is always allowed, so an object stored before a check existed can still be labelled or deleted.

Failure policy: the chart registers the webhook with `failurePolicy: Ignore`: while no operator answers (an
upgrade, an outage) applies still succeed and the reconcilers' checks report the error in status, as before.
Every replica serves it (a standby too), so it answers while the leader changes. The review handling is ours
(~30 lines of AdmissionReview JSON) because kopf's admission server depends on its resource scanning, which a
namespaced operator turns off; TLS and HTTP are aiohttp's (kopf's own HTTP server) and `cryptography`'s.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from kemr.api import EMRStepSpec
from kemr.api.admission import WEBHOOK_PATHS
from kemr.api.catalog import DataCatalogSpec
from kemr.api.constants import (
    CATALOG_KIND,
    CATALOG_PLURAL,
    CLUSTER_KIND,
    CLUSTER_PLURAL,
    STEP_KIND,
    STEP_PLURAL,
)
from kemr.config import OperatorConfig
from kemr.controllers import certs
from kemr.controllers.cluster import parse_spec
from kemr.metrics import ADMISSION_REVIEWS
from kemr.resolve import ResolveError, resolve_cluster
from kemr.resolve.catalog import resolve_catalog
from kemr.runtime.client import Client
from kemr.validate import ValidationIssue, validate_step

log = logging.getLogger("kemr.webhook")

PATHS = {
    WEBHOOK_PATHS[CLUSTER_PLURAL]: CLUSTER_KIND,
    WEBHOOK_PATHS[STEP_PLURAL]: STEP_KIND,
    WEBHOOK_PATHS[CATALOG_PLURAL]: CATALOG_KIND,
}
CHECK_SECONDS = 300.0  # the CA bundle re-written if someone reset it; the certificate renewed when due
RETRY_SECONDS = 10.0
MAX_REVIEW_BYTES = 8 * 1024 * 1024
_NO_UID = "00000000-0000-0000-0000-000000000000"


# --- the verdicts (pure) ----------------------------------------------------------------------------------


def review_cluster(obj: Mapping[str, Any], config: OperatorConfig) -> list[ValidationIssue]:
    """Why the reconciler could not build this EMRCluster (an empty list: it can)."""
    meta = obj.get("metadata") or {}
    spec, issues = parse_spec(obj)
    if spec is None or issues:
        return issues
    name = meta.get("name") or meta.get("generateName") or "cluster"
    try:
        resolve_cluster(name, meta.get("namespace") or "default", meta.get("uid") or _NO_UID, spec, config)
    except ResolveError as err:
        return [ValidationIssue(err.field, err.message)]
    return []


def review_step(obj: Mapping[str, Any]) -> list[ValidationIssue]:
    """Why the reconciler would fail this EMRStep on its own spec (an empty list: it wouldn't)."""
    try:
        spec = EMRStepSpec.model_validate(obj.get("spec") or {})
    except ValidationError as err:
        first = err.errors()[0]
        return [ValidationIssue("spec." + ".".join(str(p) for p in first["loc"]), first["msg"])]
    return validate_step(spec)


def review_catalog(obj: Mapping[str, Any], config: OperatorConfig) -> list[ValidationIssue]:
    """Why the reconciler could not build this DataCatalog (an empty list: it can)."""
    meta = obj.get("metadata") or {}
    try:
        spec = DataCatalogSpec.model_validate(obj.get("spec") or {})
    except ValidationError as err:
        first = err.errors()[0]
        return [ValidationIssue("spec." + ".".join(str(p) for p in first["loc"]), first["msg"])]
    name = meta.get("name") or meta.get("generateName") or "catalog"
    try:
        resolve_catalog(name, meta.get("namespace") or "default", meta.get("uid") or _NO_UID, spec, config)
    except ResolveError as err:
        return [ValidationIssue(err.field, err.message)]
    return []


def _issues(kind: str, obj: Mapping[str, Any], config: OperatorConfig) -> list[ValidationIssue]:
    if kind == CLUSTER_KIND:
        return review_cluster(obj, config)
    if kind == CATALOG_KIND:
        return review_catalog(obj, config)
    return review_step(obj)


InUse = Callable[[str, str], list[str]]
"""(namespace, DataCatalog name) → the EMRClusters, not terminated, that use it (from the watch cache)."""


def review_delete(kind: str, request: Mapping[str, Any], in_use: InUse | None) -> dict[str, Any]:
    """A DataCatalog's delete: refused (403 Forbidden) while EMRClusters use it, naming them and the fix."""
    allowed = {"uid": request.get("uid", ""), "allowed": True}
    old = request.get("oldObject") or {}
    meta = old.get("metadata") or {}
    if kind != CATALOG_KIND or in_use is None or not meta.get("name"):
        return allowed
    clusters = in_use(meta.get("namespace") or request.get("namespace") or "", meta["name"])
    ADMISSION_REVIEWS.labels(kind, "refused" if clusters else "allowed").inc()
    if not clusters:
        return allowed
    message = (
        f"DataCatalog {meta['name']} is used by EMRClusters {', '.join(clusters)} (spec.catalog): terminate"
        " or delete them first; their tables stay in the catalog"
    )
    return {**allowed, "allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": message}}


def review(
    kind: str, request: Mapping[str, Any], config: OperatorConfig, in_use: InUse | None = None
) -> dict[str, Any]:
    """The AdmissionReview `response` (admission.k8s.io/v1) for one `request` about an object of `kind`.

    Refused: status code 422 (Invalid), the message naming every field to fix, as the apiserver words its own
    schema errors. An update is refused only for problems the old object didn't have (as the apiserver's
    validation ratcheting): an object stored while no webhook answered, or made invalid by a change of the
    operator's configuration (a retired release), can still be unprotected, terminated or fixed field by
    field. A check that raises is logged and the request allowed (fail open, as failurePolicy Ignore).
    """
    if request.get("operation") == "DELETE":
        return review_delete(kind, request, in_use)
    obj: Mapping[str, Any] = request.get("object") or {}
    old: Mapping[str, Any] | None = request.get("oldObject")
    allowed = {"uid": request.get("uid", ""), "allowed": True}
    if request.get("operation") not in ("CREATE", "UPDATE") or (obj.get("metadata") or {}).get(
        "deletionTimestamp"
    ):
        return allowed
    if old is not None and old.get("spec") == obj.get("spec"):
        return allowed  # metadata only: never block labels, finalizers or deletion of a stored object
    try:
        issues = _issues(kind, obj, config)
        if issues and old is not None:  # ratcheting: an update is refused only for problems it brings in
            known = {str(i) for i in _issues(kind, old, config)}
            issues = [i for i in issues if str(i) not in known]
    except Exception:
        log.exception("webhook: the %s check failed; allowing the request", kind)
        return allowed
    ADMISSION_REVIEWS.labels(kind, "refused" if issues else "allowed").inc()
    if not issues:
        return allowed
    name = (obj.get("metadata") or {}).get("name") or "(generated name)"
    message = f"{kind} {name} is invalid: " + "; ".join(str(i) for i in issues)
    return {**allowed, "allowed": False, "status": {"code": 422, "reason": "Invalid", "message": message}}


# --- the server -------------------------------------------------------------------------------------------


@dataclass
class WebhookOptions:
    """Where the webhook listens and what it maintains (`kemr run --webhook-*`)."""

    port: int
    """HTTPS port on every address; 0: no webhook."""
    namespace: str
    """The operator's namespace (its certificate's Secret)."""
    secret: str = "kemr-webhook-cert"
    configuration: str | None = None
    """ValidatingWebhookConfiguration whose caBundle this operator keeps; None: leave it to someone else."""
    dns_names: list[str] = field(default_factory=list)
    """Names the apiserver calls it by (`<service>.<namespace>.svc`); localhost is always included."""


class WebhookServer:
    """Serves the reviews over HTTPS once the shared certificate is known, and keeps certificate and CA
    bundle current (CHECK_SECONDS). Never raises: API errors are logged and retried."""

    def __init__(
        self, kube: Client, config: OperatorConfig, options: WebhookOptions, in_use: InUse | None = None
    ) -> None:
        self.kube, self.config, self.options, self.in_use = kube, config, options, in_use
        self.ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tmp = tempfile.TemporaryDirectory(prefix="kemr-webhook-")  # the key, removed at the end
        self._dir = Path(self._tmp.name)
        self._cert: certs.ServingCert | None = None
        self.serving = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        kind = PATHS[request.path]
        try:
            body = await request.json()
            admission = body["request"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected an AdmissionReview"}, status=400)
        response = review(kind, admission, self.config, self.in_use)
        return web.json_response(
            {
                "apiVersion": body.get("apiVersion", "admission.k8s.io/v1"),
                "kind": "AdmissionReview",
                "response": response,
            }
        )

    async def _refresh(self) -> None:
        cert, bundle = await certs.ensure_serving_cert(
            self.kube, self.options.namespace, self.options.secret, self.options.dns_names
        )
        if cert != self._cert:
            (self._dir / "tls.crt").write_bytes(cert.cert_pem)
            (self._dir / "tls.key").write_bytes(cert.key_pem)
            self.ssl.load_cert_chain(self._dir / "tls.crt", self._dir / "tls.key")  # new handshakes use it
            self._cert = cert
        if self.options.configuration:
            await certs.inject_ca_bundle(self.kube, self.options.configuration, bundle)

    async def run(self) -> None:
        # An UPDATE's review holds the object twice (object and oldObject, managedFields included): room for
        # two of the apiserver's largest objects (about 1.5 MiB each), not aiohttp's default 1 MiB.
        app = web.Application(client_max_size=MAX_REVIEW_BYTES)
        for path in PATHS:
            app.router.add_post(path, self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            while True:
                try:
                    await self._refresh()
                except Exception as err:  # RBAC, the API away: the reconcilers' checks still apply meanwhile
                    log.error("webhook: certificate or CA bundle not updated (retrying): %s", err)
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if not self.serving.is_set():
                    site = web.TCPSite(runner, port=self.options.port, ssl_context=self.ssl, reuse_port=True)
                    try:
                        await site.start()
                    except OSError as err:  # the port taken (by the metrics or health port?): say so, retry
                        log.error("webhook: cannot listen on :%d (retrying): %s", self.options.port, err)
                        await asyncio.sleep(RETRY_SECONDS)
                        continue
                    self.serving.set()
                    log.info("webhook: serving admission reviews on :%d", self.options.port)
                await asyncio.sleep(CHECK_SECONDS)
        finally:
            await runner.cleanup()
            self._tmp.cleanup()
