"""Leader election on a coordination.k8s.io Lease, as client-go's: one operator process reconciles at a time.

kopf's own peering is not Lease-based (equal priorities freeze), so the operator elects itself: a standby
replica (or a second process started by mistake) waits until the holder stops renewing, then takes over; a
leader that can't renew within the lease duration exits rather than risk two operators writing at once.

As client-go's leaderelection: expiry is judged by this process's own clock, from when it last saw the Lease
record change, never by comparing the holder's renewTime with local time (clock skew between replicas would
make a standby take over a live leader). An error reading or writing the Lease (missing RBAC, a missing
namespace, an API outage) is retried with backoff and shows in the log, in `kemr_leader_election_errors_total`
and in /healthz (unhealthy while not leading and unable to try), never as a healthy-looking idle operator.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from kemr.metrics import LEADER, LEADER_ELECTION_ERRORS
from kemr.runtime.client import ApiError, Client
from kemr.runtime.kinds import kind_named

log = logging.getLogger(__name__)
LEASES = kind_named("Lease")


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


MAX_RETRY_SECONDS = 30.0


class LeaseClock:
    """When this process last saw a Lease's record change, on its own monotonic clock (client-go's
    observedTime): a holder is alive while its record keeps changing within leaseDurationSeconds."""

    def __init__(self) -> None:
        self.record: tuple[Any, ...] | None = None
        self.seen_at = 0.0

    def expired(self, lease: dict[str, Any], now: float | None = None) -> bool:
        """`now`: monotonic seconds (time.monotonic() when None). A Lease without holder is free; a record
        seen for the first time or changed since counts as just renewed."""
        spec = lease.get("spec") or {}
        if not spec.get("holderIdentity"):
            return True
        now = time.monotonic() if now is None else now
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))
        if record != self.record:
            self.record, self.seen_at = record, now
            return False
        return now > self.seen_at + int(spec.get("leaseDurationSeconds") or 0)


class LeaderElector:
    def __init__(
        self, kube: Client, namespace: str, name: str = "kemr-operator", lease_seconds: int = 15
    ) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.identity = f"{socket.gethostname()}_{os.getpid()}"
        self.lease_seconds = lease_seconds
        self.renew_seconds = max(1.0, lease_seconds / 3)
        self.clock = LeaseClock()
        self.leading = False
        self.last_error: str | None = None  # the last failed attempt's error, while not leading

    def healthy(self) -> str | None:
        """None when healthy; else why not: this process neither leads nor can take part in the election."""
        if self.leading or self.last_error is None:
            return None
        return f"cannot take part in leader election (Lease {self.namespace}/{self.name}): {self.last_error}"

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
        if lease and holder != self.identity and not self.clock.expired(lease):
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
        """Returns once this process leads. Errors are retried with backoff (up to MAX_RETRY_SECONDS apart),
        logged when they change, counted, and kept in last_error for /healthz."""
        logged = False
        delay = self.renew_seconds
        while True:
            try:
                if await self.try_acquire_or_renew():
                    break
                self.last_error, delay = None, self.renew_seconds
                if not logged:
                    log.info("waiting to become the leader (Lease %s/%s)", self.namespace, self.name)
                    logged = True
            except Exception as err:  # 403 (RBAC), 404 (namespace), 5xx, connection: keep trying
                LEADER_ELECTION_ERRORS.inc()
                if str(err) != self.last_error:
                    log.error(
                        "leader election: cannot read or take the Lease %s/%s, retrying: %s",
                        self.namespace,
                        self.name,
                        err,
                    )
                self.last_error = str(err)
                delay = min(MAX_RETRY_SECONDS, delay * 2)
            await asyncio.sleep(delay)
        self.leading, self.last_error = True, None
        LEADER.set(1)
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
                break
            except Exception as err:  # renewing failed: keep trying until the lease would expire
                LEADER_ELECTION_ERRORS.inc()
                log.warning("could not renew the Lease: %s", err)
            if _now() > deadline:
                log.error("could not renew the Lease for %ss", self.lease_seconds)
                break
        self.leading = False
        LEADER.set(0)

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
