"""`kemr emr-api`: EMR's API over HTTPS. A POST of an AWS JSON 1.1 request (`X-Amz-Target:
ElasticMapReduce.<Operation>`, SigV4-signed) is authenticated (auth/), run by its operation as the access
key's ServiceAccount (operations.py), and answered in EMR's shapes; every refusal in EMR's error shape
(errors.py), never a bare 500. No request or header is logged that could hold a secret: only the operation,
the access key id, its namespace, the answer's code and the time taken.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import ssl
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from prometheus_client import Counter, Histogram, start_http_server

from kemr.emrapi import translate
from kemr.emrapi.auth import sigv4
from kemr.emrapi.auth.keys import AccessKey, KeyStore
from kemr.emrapi.errors import (
    EmrApiError,
    InvalidRequestException,
    InvalidSignatureException,
    UnknownOperationException,
    UnrecognizedClientException,
    ValidationException,
)
from kemr.emrapi.operations import OPERATIONS, Call, ConflictError, Names, Operation, Settings
from kemr.runtime.client import ApiError, KubeClient

log = logging.getLogger("kemr.emrapi")

TARGET_PREFIX = "ElasticMapReduce."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_REQUEST_BYTES = 1024 * 1024  # RunJobFlow's largest inputs (configurations, steps) are far below this
CONFLICT_RETRIES = 3
SINGLE_HEADERS = ("X-Amz-Target", "Authorization", "X-Amz-Date", "Host")


class RequestTooLargeError(EmrApiError):
    """A body over MAX_REQUEST_BYTES."""

    code = "ValidationException"
    status = 413


async def read_body(request: web.Request) -> bytes:
    """The request body; RequestTooLargeError (413, EMR's shape) over MAX_REQUEST_BYTES."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestTooLargeError(f"The request body is larger than {MAX_REQUEST_BYTES} bytes") from None


REQUESTS = Counter(
    "kemr_emr_api_requests_total", "EMR API requests by operation and answer", ["operation", "code"]
)
LATENCY = Histogram(
    "kemr_emr_api_request_seconds",
    "EMR API request latency by operation",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


async def run(handler: Operation, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The operation, run again (from its reads) when its write met a change made meanwhile."""
    for _ in range(CONFLICT_RETRIES - 1):
        try:
            return await handler(call, params)
        except ConflictError:
            continue
    return await handler(call, params)


class EmrApi:
    """The request handler: authentication, dispatch, EMR's answer shapes."""

    def __init__(self, kube: KubeClient, keys: KeyStore, settings: Settings) -> None:
        self.kube, self.keys, self.settings = kube, keys, settings
        self.names = Names()

    async def _authenticate(self, request: web.Request, body: bytes) -> tuple[AccessKey, str]:
        """The request's access key and its signature's region. Raises EMR's authentication errors."""
        signed = sigv4.parse_authorization(request.headers)
        key = await self.keys.get(signed.access_key_id)
        if key is None:
            raise UnrecognizedClientException("The security token included in the request is invalid.")
        now = datetime.now(UTC)

        def check(secret: str) -> None:
            sigv4.verify(
                method=request.method,
                path=request.rel_url.raw_path,
                query=request.rel_url.raw_query_string,
                headers=request.headers,
                body=body,
                signed=signed,
                secret_access_key=secret,
                now=now,
            )

        try:
            check(key.secret_access_key)
        except EmrApiError:
            fresh = await self.keys.get(signed.access_key_id, reload=True)  # rotated since the last load?
            if fresh is None or fresh.secret_access_key == key.secret_access_key:
                raise
            check(fresh.secret_access_key)
            key = fresh
        return key, signed.region

    async def handle(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        targets = request.headers.getall("X-Amz-Target", [])
        target = targets[0] if len(targets) == 1 else ""
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else "-"
        key_id, namespace = "-", "-"
        try:
            once = [h for h in SINGLE_HEADERS if len(request.headers.getall(h, [])) > 1]
            if once:  # a signature covers them joined: one operation signed, another run
                raise InvalidSignatureException(f"{', '.join(once)} must be sent once")
            body = await read_body(request)
            if operation == "-":
                raise UnknownOperationException(f"Unknown operation '{target}'")
            key, region = await self._authenticate(request, body)
            key_id, namespace = key.access_key_id, key.namespace
            handler = OPERATIONS.get(operation)
            if handler is None:
                raise InvalidRequestException(f"{operation} is not supported by kemr")
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                raise ValidationException("The request body is not JSON") from None
            if not isinstance(params, dict):
                raise ValidationException("The request body must be a JSON object")
            call = Call(self.kube.impersonating(key.username), key, region, self.settings, self.names)
            status, payload, code = 200, await run(handler, call, params), "OK"
        except EmrApiError as error:
            status, payload, code = error.status, error.body(), error.code
        except ApiError as error:  # Kubernetes failed in a way that is not the caller's doing
            log.error("EMR API %s: Kubernetes answered %s %s", operation, error.status, error.reason)
            status, code = 500, "InternalServerError"
            payload = {"__type": code, "Message": f"Kubernetes answered {error.status} {error.reason}"}
        except Exception:
            log.exception("EMR API %s failed", operation)
            status, code = 500, "InternalServerError"
            payload = {"__type": code, "Message": "kemr's EMR API failed; see its log"}
        elapsed = time.monotonic() - started
        # Only known names as label values: anyone can send any target, and each value is a time series.
        label = operation if operation in OPERATIONS else "unsupported"
        REQUESTS.labels(label, code).inc()
        LATENCY.labels(label).observe(elapsed)
        log.info(
            "%s key=%s namespace=%s -> %d %s (%.0f ms)",
            operation,
            key_id,
            namespace,
            status,
            code,
            elapsed * 1000,
        )
        return web.Response(
            status=status,
            text=json.dumps(payload),
            content_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": str(uuid.uuid4())},
        )


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def load_settings(path: Path | None) -> Settings:
    """The API's configuration file (YAML), each key optional (see operations.Settings):
    `instanceTypes: {m5.xlarge: {cpu: "4", memory: 16Gi}, ...}` (replacing the default table),
    `releases: {emr-7.5.0: kemr-1.0, ...}`, `clusterDefaults: {s3: {...}, ...}` and
    `stepDefaults: {podOverrides: {...}}`. None: the defaults. Exits naming an unknown key."""
    if path is None:
        return Settings()
    data = yaml.safe_load(path.read_text()) or {}
    known = ("instanceTypes", "releases", "clusterDefaults", "stepDefaults")
    unknown = set(data) - set(known)
    if unknown:
        raise SystemExit(f"{path}: unknown keys {sorted(unknown)}; known: {', '.join(known)}")
    types = translate.parse_instance_types(data["instanceTypes"]) if "instanceTypes" in data else None
    return Settings(
        instance_types=types or translate.DEFAULT_INSTANCE_TYPES,
        releases={str(k): str(v) for k, v in (data.get("releases") or {}).items()},
        cluster_defaults=data.get("clusterDefaults") or {},
        step_defaults=data.get("stepDefaults") or {},
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kemr emr-api", description="Serve EMR's API (docs/emr-api.md).")
    p.add_argument("--kubeconfig", help="kubeconfig file; default: the pod's service account")
    p.add_argument("--namespace", required=True, help="where the access keys' Secrets are (the API's own)")
    p.add_argument("--port", type=int, default=8443, help="HTTPS (HTTP without --tls-cert-file) port")
    p.add_argument(
        "--tls-cert-file", type=Path, help="PEM certificate (chain) to serve, e.g. a Secret's tls.crt"
    )
    p.add_argument("--tls-key-file", type=Path, help="its PEM private key (tls.key)")
    p.add_argument("--config", type=Path, help="instance types and release map (YAML; see load_settings)")
    p.add_argument(
        "--metrics-port", type=int, default=8080, help="Prometheus metrics on :PORT/metrics (0: off)"
    )
    p.add_argument("--qps", type=float, default=50.0, help="client-side Kubernetes API rate limit")
    p.add_argument("--burst", type=int, default=100)
    return p.parse_args(argv)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise SystemExit("--tls-cert-file and --tls-key-file go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(args: argparse.Namespace) -> None:
    settings = load_settings(args.config)
    context = tls_context(args.tls_cert_file, args.tls_key_file)
    kube = await KubeClient.connect(args.kubeconfig, args.qps, args.burst)
    api = EmrApi(kube, KeyStore(kube, args.namespace), settings)
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_post("/", api.handle)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, port=args.port, ssl_context=context).start()
    scheme = "https" if context else "http (no --tls-cert-file: only for port-forwards and tests)"
    log.info("EMR API serving on :%d, %s; keys from Secrets in %s", args.port, scheme, args.namespace)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await kube.close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parse_args(argv)
    if args.metrics_port:
        start_http_server(args.metrics_port)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0
