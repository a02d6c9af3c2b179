"""Kubernetes Events about kemr's objects (what `kubectl describe` shows).

`EventRecorder` is what reconciles call: as client-go's EventBroadcaster, it posts in the background from a
bounded queue, through a client with its own rate limit (controller-runtime gives its recorder its own
client), so a burst of Events — 200 steps starting at once post 200 — never waits in front of, nor delays,
the writes that move objects (status, driver pods). `post_event` is the one POST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kemr.runtime.client import ApiError, Client
from kemr.runtime.kinds import KINDS

log = logging.getLogger(__name__)
COMPONENT = "kemr-operator"
MAX_MESSAGE = 1024


def build_event(
    involved: Mapping[str, Any], type_: str, reason: str, message: str, now: datetime
) -> dict[str, Any]:
    meta = involved["metadata"]
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": involved["apiVersion"],
            "kind": involved["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "type": type_,
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def post_event(
    kube: Client, involved: Mapping[str, Any], type_: str, reason: str, message: str
) -> None:
    """Best effort: an Event that can't be written is logged, never fails the reconcile."""
    event = build_event(involved, type_, reason, message, datetime.now(UTC))
    try:
        await kube.request(
            "POST", KINDS[("v1", "Event")].collection(event["metadata"]["namespace"]), body=event
        )
    except ApiError as err:
        log.warning("could not record event %s on %s: %s", reason, involved["metadata"]["name"], err)


MAX_QUEUED_EVENTS = 1000  # client-go's EventBroadcaster queue length; beyond it an Event is dropped (logged)
EVENT_WORKERS = 4  # concurrent POSTs: one at a time would cap Events at one apiserver round trip each


class EventRecorder:
    """Records Events on kemr's objects. Until `start`, `record` posts at once (what the unit tests' in-memory
    apiserver wants: deterministic); once started, it queues and returns, and EVENT_WORKERS tasks post.

    `kube` should have its own rate limit (KubeClient.with_limiter): Events are best effort, and the objects'
    own writes come first."""

    def __init__(self, kube: Client) -> None:
        self._kube = kube
        self._queue: asyncio.Queue[tuple[Mapping[str, Any], str, str, str]] | None = None

    def start(self, workers: int = EVENT_WORKERS, size: int = MAX_QUEUED_EVENTS) -> list[asyncio.Task[None]]:
        """Posts in the background from now on; returns the worker tasks (cancel them to stop)."""
        self._queue = asyncio.Queue(maxsize=size)
        return [asyncio.create_task(self._post_queued(), name=f"events-{n}") for n in range(workers)]

    async def record(self, involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """An Event (`type_` Normal or Warning, `reason` CamelCase, `message` up to MAX_MESSAGE characters) on
        `involved` (an object with apiVersion, kind and metadata name, namespace and uid). Never raises."""
        if self._queue is None:
            await post_event(self._kube, involved, type_, reason, message)
            return
        try:
            self._queue.put_nowait((involved, type_, reason, message))
        except asyncio.QueueFull:
            size, name = self._queue.maxsize, _name(involved)
            log.warning("event queue full (%d): dropped %s on %s", size, reason, name)

    async def drain(self, timeout: float) -> None:
        """Waits up to `timeout` seconds for the queued Events to be posted (before the process ends)."""
        if self._queue is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)

    async def _post_queued(self) -> None:
        assert self._queue is not None
        while True:
            involved, type_, reason, message = await self._queue.get()
            try:
                await post_event(self._kube, involved, type_, reason, message)
            except Exception:  # a worker must outlive any one Event (a connection error, a bad object)
                log.exception("could not record event %s on %s", reason, _name(involved))
            finally:
                self._queue.task_done()


def _name(involved: Mapping[str, Any]) -> str:
    meta = involved.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
