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
from kemr.apply.ssa import delete, server_side_apply, with_owner_and_hash
from kemr.builders.history import (
    HISTORY_REQUESTED_ANNOTATION,
    HISTORY_TTL_SECONDS,
    ROLE_HISTORY,
    build_history_network_policy,
    build_history_pod,
)
from kemr.observe import pod_ended_message
from kemr.resolve import ResolvedCluster
from kemr.runtime.client import ApiError

if TYPE_CHECKING:
    from kemr.controllers.run import Context

log = logging.getLogger(__name__)
ENDED_PHASES = frozenset({"Succeeded", "Failed"})  # past its deadline, or the JVM died
HISTORY_RETRY_SECONDS = 30.0  # after the apiserver refused the pod or its NetworkPolicy


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
    """Seconds the history server is still wanted for (> 0), or None when it is not. A request stamped in the
    future (a client's clock ahead, a hand-written annotation) counts as made now: never more than the TTL."""
    if requested is None:
        return None
    left = (min(requested, now) + timedelta(seconds=HISTORY_TTL_SECONDS) - now).total_seconds()
    return left if left > 0 else None


def is_history(obj: Mapping[str, Any]) -> bool:
    """A history server's pod or NetworkPolicy (the cluster's other children leave these alone)."""
    return (obj["metadata"].get("labels") or {}).get(LABEL_ROLE) == ROLE_HISTORY


async def _say(ctx: Context, owner: Mapping[str, Any], reason: str, message: str) -> None:
    """A Warning Event on the cluster, once per (reason, message) while the request lasts: a refusal retried
    every round must not post an Event every round."""
    key, said = owner["metadata"]["uid"], f"{reason}: {message}"
    if ctx.history_events.get(key) != said:
        ctx.history_events[key] = said
        await ctx.events.record(owner, "Warning", reason, message)


async def reconcile_history(
    ctx: Context, cluster: Mapping[str, Any], resolved: ResolvedCluster | None, now: datetime
) -> float | None:
    """Creates or deletes the cluster's history server as its request says; returns seconds until the request
    expires (None: nothing to wait for). What stands in the way (no logUri, a spec that doesn't resolve, an
    apiserver refusal, a pod that ended) is posted once as a Warning Event; a refusal is retried every
    HISTORY_RETRY_SECONDS, an ended pod only on a newer request (no restart loop)."""
    meta = cluster["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    owner = {"apiVersion": cluster["apiVersion"], "kind": cluster["kind"], "metadata": meta}
    live = [o for kind in ("Pod", "NetworkPolicy") for o in ctx.store.children(kind, namespace, name)]
    live = [o for o in live if is_history(o)]
    requested = requested_at(cluster)
    left = history_wanted(requested, now)
    try:
        if left is None or resolved is None or not resolved.event_log_dir:
            for obj in live:
                await delete(ctx.kube, obj)
            if left is None:
                ctx.history_events.pop(meta["uid"], None)
            elif resolved is None:
                await _say(
                    ctx,
                    owner,
                    "HistoryServerFailed",
                    f"EMRCluster {name}'s spec doesn't resolve (its Stalled condition says why):"
                    " no history server",
                )
            elif not live:
                await _say(
                    ctx,
                    owner,
                    "NoEventLogs",
                    f"EMRCluster {name} has no spec.logUri, so Spark wrote no event logs: there is no history"
                    " to serve (set spec.logUri on the next cluster)",
                )
            return None
        assert requested is not None
        pods = [o for o in live if o["kind"] == "Pod"]
        ended = [p for p in pods if (p.get("status") or {}).get("phase") in ENDED_PHASES]
        for pod in ended:
            created = parse_time(pod["metadata"].get("creationTimestamp"))
            if created is not None and created < min(requested, now):  # asked for again since: start anew
                await delete(ctx.kube, pod)
                return 2.0
            await _say(
                ctx, owner, "HistoryServerFailed", f"pod {pod['metadata']['name']}: {pod_ended_message(pod)}"
            )
            return left
        if not pods:
            log.info("%s/%s: starting the Spark History Server (%ds)", namespace, name, int(left))
            await server_side_apply(
                ctx.kube, with_owner_and_hash(build_history_network_policy(resolved), owner)
            )
            await server_side_apply(ctx.kube, with_owner_and_hash(build_history_pod(resolved), owner))
    except ApiError as err:
        log.warning("%s/%s: history server: %s", namespace, name, err)
        await _say(ctx, owner, "HistoryServerFailed", err.message)
        return HISTORY_RETRY_SECONDS
    return left


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
