"""An async client for raw Kubernetes API requests on plain dicts, rate-limited and counted.

Builders produce manifests as dicts; this client sends them as they are (no model round-trip), through the
official client's aiohttp transport and its kubeconfig / in-cluster authentication. Answers and watch events
are decoded with orjson: decoding pod events with the standard library's json was 17% of the operator's busy
time in a burst of 30 clusters (bench/compare.py --profile).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson
from kubernetes.aio import client as aio_client
from kubernetes.aio import config as aio_config

from kemr.metrics import API_REQUESTS, API_THROTTLE_SECONDS
from kemr.runtime.ratelimit import TokenBucket

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


class ApiError(Exception):
    """A non-2xx answer of the apiserver, with its Status reason and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class Client(Protocol):
    """What the runtime, the apply layer and the reconcilers need of an API client: KubeClient against an
    apiserver, tests/support/fake_api.py in memory."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """The answer's JSON; raises ApiError for a non-2xx answer."""
        ...

    def watch(self, path: str, query: Mapping[str, str], timeout: float) -> AsyncIterator[dict[str, Any]]:
        """A collection's watch events ({"type": ..., "object": ...}) until the server ends the stream."""
        ...

    async def close(self) -> None:
        """Releases the connections."""
        ...


class KubeClient:
    """Raw requests, e.g. `await kube.request("GET", "/api/v1/pods", query={"labelSelector": ...})`."""

    def __init__(
        self, api: aio_client.ApiClient, limiter: TokenBucket, impersonate: str | None = None
    ) -> None:
        self._api = api
        self._limiter = limiter
        self._impersonate = impersonate

    def impersonating(self, username: str) -> KubeClient:
        """The same connection and rate limit, acting as `username` (Kubernetes impersonation: the
        Impersonate-User header; the caller needs the `impersonate` verb on that user). Kubernetes then
        authorizes each call by that user's RBAC, e.g. `system:serviceaccount:team-a:emr`."""
        return KubeClient(self._api, self._limiter, impersonate=username)

    def with_limiter(self, limiter: TokenBucket) -> KubeClient:
        """The same connection and identity under another rate limit (e.g. the Event recorder's: as
        controller-runtime's, its requests never wait for the reconciles' tokens, nor take theirs)."""
        return KubeClient(self._api, limiter, impersonate=self._impersonate)

    @classmethod
    async def connect(cls, kubeconfig: str | None, qps: float, burst: int) -> KubeClient:
        """From a kubeconfig file, or the in-cluster service account when `kubeconfig` is None."""
        if kubeconfig:
            api = await aio_config.new_client_from_config(config_file=kubeconfig)
        else:
            aio_config.load_incluster_config()
            api = aio_client.ApiClient()
        return cls(api, TokenBucket(qps, burst))

    @property
    def configuration(self) -> aio_client.Configuration:
        configuration: aio_client.Configuration = self._api.configuration
        return configuration

    async def close(self) -> None:
        await self._api.close()

    async def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        content_type: str,
        body: Any,
        timeout: float | None = None,
    ) -> Any:
        API_THROTTLE_SECONDS.inc(await self._limiter.acquire())
        resource_path = f"{path}?{urlencode(query)}" if query else path
        _, url, headers, _, _ = await self._api.param_serialize(
            method=method,
            resource_path=resource_path,
            header_params={
                "Content-Type": content_type,
                "Accept": "application/json",
                **({"Impersonate-User": self._impersonate} if self._impersonate else {}),
            },
            auth_settings=["BearerToken"],
        )
        return await self._api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=timeout
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        response = await self._send(method, path, query, content_type, body)
        data = await response.read()
        API_REQUESTS.labels(method, str(response.status)).inc()
        payload: dict[str, Any] = orjson.loads(data) if data else {}
        if response.status >= 400:
            raise ApiError(
                response.status, str(payload.get("reason", response.reason)), payload.get("message", "")
            )
        return payload

    async def watch(
        self, path: str, query: Mapping[str, str], timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """Streams a collection's watch events ({"type": ..., "object": ...}) until the server ends it."""
        response = await self._send(
            "GET", path, {**query, "watch": "true"}, "application/json", None, timeout
        )
        API_REQUESTS.labels("WATCH", str(response.status)).inc()
        if response.status >= 400:
            payload = orjson.loads(await response.read() or b"{}")
            raise ApiError(
                response.status, str(payload.get("reason", response.reason)), payload.get("message", "")
            )
        try:
            buffer = b""  # events are newline-delimited JSON; read in chunks (no line-length limit)
            async for chunk in response.response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)
        finally:
            response.response.release()
