"""Kubernetes Events about kemr's objects (what `kubectl describe` shows)."""

from __future__ import annotations

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
