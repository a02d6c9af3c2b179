"""Leader election on a coordination.k8s.io Lease, as client-go's: one operator process reconciles at a time.

kopf's own peering is not Lease-based (equal priorities freeze), so the operator elects itself: a standby
replica (or a second process started by mistake) waits until the holder stops renewing, then takes over; a
leader that can't renew within the lease duration exits rather than risk two operators writing at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from kemr.apply.client import ApiError, KubeClient
from kemr.apply.kinds import kind_named

log = logging.getLogger(__name__)
LEASES = kind_named("Lease")


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def expired(lease: dict[str, Any], now: datetime) -> bool:
    spec = lease.get("spec") or {}
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    if not spec.get("holderIdentity") or renewed is None:
        return True
    return now > renewed + timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))


class LeaderElector:
    def __init__(
        self, kube: KubeClient, namespace: str, name: str = "kemr-operator", lease_seconds: int = 15
    ) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.identity = f"{socket.gethostname()}_{os.getpid()}"
        self.lease_seconds = lease_seconds
        self.renew_seconds = max(1.0, lease_seconds / 3)

    def _lease(self, lease: dict[str, Any] | None, acquired: datetime | None) -> dict[str, Any]:
        now = _now()
        spec = dict((lease or {}).get("spec") or {})
        taking_over = spec.get("holderIdentity") != self.identity
        spec.update(
            {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.lease_seconds,
                "renewTime": _stamp(now),
                "acquireTime": _stamp(acquired or now)
                if taking_over
                else spec.get("acquireTime", _stamp(now)),
                "leaseTransitions": int(spec.get("leaseTransitions") or 0)
                + (1 if taking_over and lease else 0),
            }
        )
        meta = {"name": self.name, "namespace": self.namespace}
        if lease:
            meta["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    async def _get(self) -> dict[str, Any] | None:
        try:
            return await self.kube.request("GET", LEASES.path(self.namespace, self.name))
        except ApiError as err:
            if err.not_found:
                return None
            raise

    async def try_acquire_or_renew(self) -> bool:
        lease = await self._get()
        holder = ((lease or {}).get("spec") or {}).get("holderIdentity")
        if lease and holder != self.identity and not expired(lease, _now()):
            return False
        try:
            if lease is None:
                await self.kube.request(
                    "POST", LEASES.collection(self.namespace), body=self._lease(None, None)
                )
            else:
                await self.kube.request(
                    "PUT", LEASES.path(self.namespace, self.name), body=self._lease(lease, None)
                )
        except ApiError as err:
            if err.conflict:  # someone else wrote it first
                return False
            raise
        return True

    async def acquire(self) -> None:
        logged = False
        while not await self.try_acquire_or_renew():
            if not logged:
                log.info("waiting to become the leader (Lease %s/%s)", self.namespace, self.name)
                logged = True
            await asyncio.sleep(self.renew_seconds)
        log.info("became the leader as %s (Lease %s/%s)", self.identity, self.namespace, self.name)

    async def keep(self) -> None:
        """Renews until it can't: returns when the lease is lost (the caller must stop reconciling)."""
        deadline = _now() + timedelta(seconds=self.lease_seconds)
        while True:
            await asyncio.sleep(self.renew_seconds)
            try:
                if await self.try_acquire_or_renew():
                    deadline = _now() + timedelta(seconds=self.lease_seconds)
                    continue
                log.error("another operator holds the Lease %s/%s", self.namespace, self.name)
                return
            except Exception as err:  # renewing failed: keep trying until the lease would expire
                log.warning("could not renew the Lease: %s", err)
            if _now() > deadline:
                log.error("could not renew the Lease for %ss", self.lease_seconds)
                return

    async def release(self) -> None:
        """Lets a standby take over at once (on a graceful stop)."""
        lease = await self._get()
        if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
            body = self._lease(lease, None)
            body["spec"].update({"holderIdentity": None, "leaseDurationSeconds": 1})
            try:
                await self.kube.request("PUT", LEASES.path(self.namespace, self.name), body=body)
            except ApiError as err:
                log.warning("could not release the Lease: %s", err)
