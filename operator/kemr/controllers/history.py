"""The cluster's Spark History Server, on request (kemr.builders.history): part of every EMRCluster reconcile,
whatever the cluster's state — a terminated cluster's event logs are what it is for.

decide (`history_wanted`, pure: the request annotation and the clock) → build → apply (create the pod and its
NetworkPolicy, or delete both once the request is older than HISTORY_TTL_SECONDS).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kemr.api.constants import LABEL_ROLE
from kemr.apply.events import post_event
from kemr.apply.ssa import delete, server_side_apply, with_owner_and_hash
from kemr.builders.history import (
    HISTORY_REQUESTED_ANNOTATION,
    HISTORY_TTL_SECONDS,
    ROLE_HISTORY,
    build_history_network_policy,
    build_history_pod,
)
from kemr.resolve import ResolvedCluster
from kemr.runtime.client import ApiError

if TYPE_CHECKING:
    from kemr.controllers.run import Context

log = logging.getLogger(__name__)
ENDED_PHASES = frozenset({"Succeeded", "Failed"})  # past its deadline, or the JVM died: made again if wanted


def requested_at(cluster: Mapping[str, Any]) -> datetime | None:
    """The time in the cluster's HISTORY_REQUESTED_ANNOTATION (RFC 3339), or None (absent or unreadable)."""
    value = (cluster["metadata"].get("annotations") or {}).get(HISTORY_REQUESTED_ANNOTATION)
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def history_wanted(requested: datetime | None, now: datetime) -> float | None:
    """Seconds the history server is still wanted for (> 0), or None when it is not."""
    if requested is None:
        return None
    left = (requested + timedelta(seconds=HISTORY_TTL_SECONDS) - now).total_seconds()
    return left if left > 0 else None


def is_history(obj: Mapping[str, Any]) -> bool:
    """A history server's pod or NetworkPolicy (the cluster's other children leave these alone)."""
    return (obj["metadata"].get("labels") or {}).get(LABEL_ROLE) == ROLE_HISTORY


async def reconcile_history(
    ctx: Context, cluster: Mapping[str, Any], resolved: ResolvedCluster | None, now: datetime
) -> float | None:
    """Creates or deletes the cluster's history server as its request says; returns seconds until the request
    expires (None: nothing to wait for). A request the cluster can't serve (no logUri) gets a Warning Event;
    an apiserver refusal is logged and posted, then retried on the next round."""
    meta = cluster["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    owner = {"apiVersion": cluster["apiVersion"], "kind": cluster["kind"], "metadata": meta}
    live = [o for kind in ("Pod", "NetworkPolicy") for o in ctx.store.children(kind, namespace, name)]
    live = [o for o in live if is_history(o)]
    left = history_wanted(requested_at(cluster), now)
    try:
        if left is None or resolved is None or not resolved.event_log_dir:
            for obj in live:
                await delete(ctx.kube, obj)
            if left is not None and resolved is not None and not live:
                await post_event(
                    ctx.kube,
                    owner,
                    "Warning",
                    "NoEventLogs",
                    f"EMRCluster {name} has no spec.logUri, so Spark wrote no event logs: there is no history"
                    " to serve (set spec.logUri on the next cluster)",
                )
            return None
        pods = [o for o in live if o["kind"] == "Pod"]
        if any((p.get("status") or {}).get("phase") in ENDED_PHASES for p in pods):
            for pod in pods:
                await delete(ctx.kube, pod)
            return 2.0  # made again once the old pod is gone
        if not pods:
            log.info("%s/%s: starting the Spark History Server (%ds)", namespace, name, int(left))
            await server_side_apply(
                ctx.kube, with_owner_and_hash(build_history_network_policy(resolved), owner)
            )
            await server_side_apply(ctx.kube, with_owner_and_hash(build_history_pod(resolved), owner))
    except ApiError as err:
        log.warning("%s/%s: history server: %s", namespace, name, err)
        await post_event(ctx.kube, owner, "Warning", "HistoryServerFailed", err.message)
        return 10.0
    return left
