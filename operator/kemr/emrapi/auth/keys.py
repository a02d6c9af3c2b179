"""Access keys: Kubernetes Secrets in the EMR API's own namespace, each bound to one namespace and one
ServiceAccount there, whose identity the API takes (impersonation) for every call made with that key.

    apiVersion: v1
    kind: Secret
    metadata:
      name: team-a-emr-key
      namespace: kemr-system                 # the EMR API's namespace (the chart's release namespace)
      labels: {kemr.io/emr-api-key: "true"}
    stringData:
      accessKeyId: AKIAKEMRTEAMA0000001       # what clients send in their signature's Credential
      secretAccessKey: <40 random characters>
      namespace: team-a                      # the only namespace this key sees and acts in
      serviceAccount: kemr-emr-api-user      # optional; the chart creates this one per namespace

The API reads these Secrets only (never clients' namespaces' Secrets), refreshes them every
REFRESH_SECONDS, and at once (at most every MIN_RELOAD_SECONDS) when a key id is unknown or a signature
doesn't match, so a new or rotated key works within seconds and a deleted one stops within REFRESH_SECONDS.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass
from typing import Any

from kemr.runtime.client import Client

log = logging.getLogger("kemr.emrapi")

KEY_LABEL = "kemr.io/emr-api-key"
DEFAULT_SERVICE_ACCOUNT = "kemr-emr-api-user"
REFRESH_SECONDS = 30.0
MIN_RELOAD_SECONDS = 2.0


@dataclass(frozen=True)
class AccessKey:
    """One key: its id and secret, the namespace it is bound to, and the ServiceAccount it acts as."""

    access_key_id: str
    secret_access_key: str
    namespace: str
    service_account: str
    secret_name: str

    @property
    def username(self) -> str:
        """The Kubernetes user name of the ServiceAccount (what the API impersonates)."""
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def key_from_secret(secret: dict[str, Any]) -> AccessKey | None:
    """The AccessKey a Secret declares, or None (logged, by name only) when a field is missing or is not
    UTF-8 text."""
    name = secret["metadata"]["name"]
    try:
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    except (ValueError, UnicodeDecodeError):
        log.warning("EMR API key Secret %s holds data that is not UTF-8 text: ignored", name)
        return None
    missing = [f for f in ("accessKeyId", "secretAccessKey", "namespace") if not data.get(f)]
    if missing:
        log.warning("EMR API key Secret %s lacks %s: ignored", name, ", ".join(missing))
        return None
    return AccessKey(
        access_key_id=data["accessKeyId"],
        secret_access_key=data["secretAccessKey"],
        namespace=data["namespace"],
        service_account=data.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT,
        secret_name=name,
    )


def keys_by_id(keys: list[AccessKey]) -> dict[str, AccessKey]:
    """The keys by access key id; an id declared by two Secrets is refused (logged with both names)."""
    found: dict[str, AccessKey] = {}
    clashes: set[str] = set()
    for key in keys:
        other = found.get(key.access_key_id)
        if other is not None:
            log.warning(
                "EMR API key Secrets %s and %s declare the same accessKeyId: both ignored",
                other.secret_name,
                key.secret_name,
            )
            clashes.add(key.access_key_id)
        found[key.access_key_id] = key
    return {k: v for k, v in found.items() if k not in clashes}


class KeyStore:
    """The keys of one namespace's labelled Secrets, by access key id. One load at a time: concurrent
    requests wait for the load in flight instead of starting their own, so unknown key ids (anyone can
    send them) cost at most one Secret list every MIN_RELOAD_SECONDS."""

    def __init__(self, client: Client, namespace: str) -> None:
        self._client = client
        self._namespace = namespace
        self._keys: dict[str, AccessKey] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _load(self) -> None:
        listing = await self._client.request(
            "GET",
            f"/api/v1/namespaces/{self._namespace}/secrets",
            query={"labelSelector": f"{KEY_LABEL}=true"},
        )
        keys = [key_from_secret(s) for s in listing.get("items", [])]
        self._keys = keys_by_id([k for k in keys if k is not None])

    async def get(self, access_key_id: str, *, reload: bool = False) -> AccessKey | None:
        """The key with this id, or None. Reloads when stale, or when `reload` or the id is unknown
        (at most every MIN_RELOAD_SECONDS, whatever the number of requests asking)."""

        def due() -> bool:
            age = time.monotonic() - self._loaded_at
            wanted = reload or access_key_id not in self._keys
            return age > REFRESH_SECONDS or (wanted and age > MIN_RELOAD_SECONDS)

        if due():
            async with self._lock:
                if due():  # not loaded meanwhile by the request we waited for
                    self._loaded_at = time.monotonic()  # also after a failed load: no retry storm
                    await self._load()
        return self._keys.get(access_key_id)
