"""Safe core scale-in: pure decisions.

Lowering a core group's replicas removes its highest-ordinal pods (a StatefulSet), and with them DataNodes
holding HDFS blocks. So the operator first excludes those DataNodes (the NameNode's dfs.hosts.exclude file,
which kemr manages), waits until the NameNode reports them Decommissioned (their blocks re-replicated
elsewhere), and only then lowers the StatefulSet; their volumes are deleted once their pods are gone.

Removing (or renaming) a core group is the same scale-in, to zero: the group's StatefulSet and its other
children stay as they are until its DataNodes are decommissioned and its pods and volumes are gone; only then
are they pruned (`departing_core_groups`, `departure_done`).

When the NameNode can't be asked (not reachable from the operator, or not up), the operator waits: it never
guesses that data is safe. An administrator (or a test on simulated nodes) releases a pod by hand with the
annotation `kemr.io/datanode-decommissioned: "true"`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kemr.api import GroupRole, GroupStatus
from kemr.api.constants import LABEL_GROUP, LABEL_ROLE, ROLE_CORE

DECOMMISSIONED_ANNOTATION = "kemr.io/datanode-decommissioned"
NAMENODE_INFO_QUERY = "Hadoop:service=NameNode,name=NameNodeInfo"
DECOMMISSIONED = "Decommissioned"

REASON_DECOMMISSIONING = "Decommissioning"  # the NameNode is moving the leaving DataNodes' blocks
REASON_WAITING = "DecommissionWaiting"  # the NameNode can't be asked: hold, never guess
REASON_DECOMMISSIONED = "Decommissioned"  # done: the StatefulSet shrinks, then the volumes go


@dataclass(frozen=True)
class CorePod:
    name: str
    ordinal: int
    ip: str | None
    started: bool  # may hold blocks: this Pod object started, or its volume is bound (an earlier pod's)
    released: bool  # annotated kemr.io/datanode-decommissioned=true


def core_pod(pod: Mapping[str, Any], bound_claims: Collection[str] = ()) -> CorePod | None:
    """A core StatefulSet's pod as the scale-in needs it; None when the name has no ordinal. `bound_claims`:
    names of the cluster's Bound volume claims. A pod that never started holds no blocks only when its volume
    was never bound either: a pod recreated after its node died (Pending, no startTime) keeps the volume, and
    the blocks, of the one before it."""
    meta, status = pod["metadata"], pod.get("status") or {}
    base, _, ordinal = meta["name"].rpartition("-")
    if not base or not ordinal.isdigit():
        return None
    annotations = meta.get("annotations") or {}
    return CorePod(
        name=meta["name"],
        ordinal=int(ordinal),
        ip=status.get("podIP"),
        started=bool(status.get("startTime")) or f"data-{meta['name']}" in bound_claims,
        released=annotations.get(DECOMMISSIONED_ANNOTATION) == "true",
    )


def namenode_admin_states(jmx: Mapping[str, Any]) -> dict[str, str]:
    """DataNode IP → admin state ("In Service", "Decommission In Progress", "Decommissioned") from the
    NameNode's JMX bean NameNodeInfo: LiveNodes and DeadNodes are JSON strings keyed by node, each with the
    transfer address ip:port."""
    states: dict[str, str] = {}
    for bean in jmx.get("beans") or []:
        for key, dead in (("LiveNodes", False), ("DeadNodes", True)):
            nodes = json.loads(bean.get(key) or "{}")
            for node in nodes.values():
                ip = str(node.get("xferaddr", "")).rsplit(":", 1)[0]
                if not ip:
                    continue
                if dead:  # a dead node reports only whether it was decommissioned
                    states[ip] = DECOMMISSIONED if node.get("decommissioned") else "Dead"
                else:
                    states[ip] = str(node.get("adminState", ""))
    return states


@dataclass(frozen=True)
class CoreScaleIn:
    """What to do with one core group this round."""

    statefulset_replicas: int  # what the StatefulSet gets: held at its size until the DataNodes are out
    excluded_ips: tuple[str, ...]  # for dfs.hosts.exclude
    decommissioning: tuple[str, ...]  # pods leaving, or left with their volume not yet deleted (status)
    claims_to_delete: tuple[str, ...]
    reason: str | None
    message: str | None


@dataclass(frozen=True)
class DepartingGroup:
    """A core group gone from the spec whose StatefulSet still exists."""

    name: str
    statefulset: str
    replicas: int  # the StatefulSet's spec.replicas now


def departing_core_groups(
    spec_groups: Iterable[str], workloads: Iterable[Mapping[str, Any]]
) -> list[DepartingGroup]:
    """Core StatefulSets (labels kemr.io/role=core, kemr.io/group) of groups no longer in the spec."""
    kept = set(spec_groups)
    departing = []
    for obj in workloads:
        labels = obj["metadata"].get("labels") or {}
        if obj.get("kind") != "StatefulSet" or labels.get(LABEL_ROLE) != ROLE_CORE:
            continue
        group = labels.get(LABEL_GROUP)
        if group and group not in kept and not obj["metadata"].get("deletionTimestamp"):
            replicas = int((obj.get("spec") or {}).get("replicas", 0))
            departing.append(DepartingGroup(group, obj["metadata"]["name"], replicas))
    return sorted(departing, key=lambda g: g.name)


def departure_done(group: DepartingGroup, plan: CoreScaleIn) -> bool:
    """True once a departing group's StatefulSet is at 0 and its pods and volumes are gone: its children can
    be pruned."""
    return group.replicas == 0 and plan.statefulset_replicas == 0 and not plan.decommissioning


def departing_status(
    group: DepartingGroup, plan: CoreScaleIn, ready: int, capacity_type: Any = None
) -> GroupStatus:
    """The status of a departing group: the pods it still has, and its decommission."""
    message = plan.message or (
        f"removed from the spec: {group.replicas} pods and their volumes leaving"
        if group.replicas
        else "removed from the spec: its pods and volumes are being deleted"
    )
    return GroupStatus(
        name=group.name,
        role=GroupRole.CORE,
        capacity_type=capacity_type,
        desired=group.replicas,
        ready=ready,
        reason=plan.reason or REASON_DECOMMISSIONED,
        message=f"removed from spec.coreGroups: {message}" if plan.message else message,
        decommissioning=list(plan.decommissioning) or None,
    )


def claim_name(statefulset: str, ordinal: int, volume: str = "data") -> str:
    return f"{volume}-{statefulset}-{ordinal}"


def plan_core_scale_in(
    statefulset: str,
    wanted: int,
    live: int | None,
    pods: Iterable[CorePod],
    namenode: Mapping[str, str] | None,
    claims: Iterable[str],
    previously_leaving: Sequence[str],
    namenode_url: str | None = None,
) -> CoreScaleIn:
    """`wanted`: the spec's replicas; `live`: the StatefulSet's now (None before it exists); `namenode`: IP →
    admin state, None when the NameNode couldn't be asked."""
    pods = sorted(pods, key=lambda p: p.ordinal)
    claims = set(claims)
    if live is None or wanted >= live:
        # Growing or steady. Pods that left earlier keep their names in status until their volumes are gone.
        # Pods still terminating stay excluded, so the NameNode places no new block on them.
        present = {p.name: p for p in pods}
        went = [n for n in previously_leaving if _ordinal(n) >= wanted]
        excluded = tuple(ip for n in went if n in present and (ip := present[n].ip))
        left = [n for n in went if n not in present]
        to_delete = tuple(c for c in (claim_name(statefulset, _ordinal(n)) for n in left) if c in claims)
        still = tuple(n for n in went if n in present or claim_name(statefulset, _ordinal(n)) in claims)
        return CoreScaleIn(wanted, excluded, still, to_delete, None, None)

    leaving = [p for p in pods if wanted <= p.ordinal < live]
    pending = [p for p in leaving if not _done(p, namenode)]
    excluded = tuple(p.ip for p in leaving if p.ip)
    names = tuple(p.name for p in leaving)
    if not pending:
        message = f"{', '.join(names) or 'no pod'} decommissioned: shrinking to {wanted}"
        return CoreScaleIn(wanted, excluded, names, (), REASON_DECOMMISSIONED, message)
    waiting_for = ", ".join(p.name for p in pending)
    if namenode is None:
        where = f" at {namenode_url}" if namenode_url else ""
        message = (
            f"waiting to decommission the DataNodes of {waiting_for}: the NameNode{where} can't be asked;"
            f" the group stays at {live} (annotate a pod {DECOMMISSIONED_ANNOTATION}=true to release it)"
        )
        return CoreScaleIn(live, excluded, names, (), REASON_WAITING, message)
    progress = ", ".join(f"{p.name}: {namenode.get(p.ip or '', 'not registered')}" for p in pending)
    message = f"decommissioning DataNodes before shrinking {live} → {wanted} ({progress})"
    return CoreScaleIn(live, excluded, names, (), REASON_DECOMMISSIONING, message)


def _done(pod: CorePod, namenode: Mapping[str, str] | None) -> bool:
    if pod.released or not pod.started:
        return True
    return namenode is not None and pod.ip is not None and namenode.get(pod.ip) == DECOMMISSIONED


def _ordinal(pod_name: str) -> int:
    tail = pod_name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


def service_proxy_path(url: str, path: str) -> str | None:
    """The apiserver's proxy path to `path` on a Service given as http://<svc>.<ns>.svc:<port>, or None when
    the URL names no Service that way."""
    parsed = urlsplit(url)
    parts = (parsed.hostname or "").split(".")
    if parsed.scheme != "http" or len(parts) < 3 or parts[2] != "svc" or parsed.port is None:
        return None
    return f"/api/v1/namespaces/{parts[1]}/services/{parts[0]}:{parsed.port}/proxy{path}"


def exclude_file(ips: Iterable[str]) -> str:
    """dfs.hosts.exclude's content: one address per line, sorted (a stable ConfigMap)."""
    return "".join(f"{ip}\n" for ip in sorted(set(ips)))


def with_core_scale_in(groups: Sequence[GroupStatus], plans: Mapping[str, CoreScaleIn]) -> list[GroupStatus]:
    """Core groups' status with their scale-in: reason, message and the pods leaving."""
    result = []
    for group in groups:
        plan = plans.get(group.name) if group.role == GroupRole.CORE else None
        if plan is None:
            result.append(group)
            continue
        update = {
            "reason": plan.reason,
            "message": plan.message,
            "decommissioning": list(plan.decommissioning) or None,
        }
        result.append(group.model_copy(update=update))
    return result


def scale_in_events(
    before: Sequence[GroupStatus], plans: Mapping[str, CoreScaleIn]
) -> list[tuple[str, str, str]]:
    """(type, reason, message) when a core group's scale-in changes phase."""
    old = {g.name: g.reason for g in before if g.role == GroupRole.CORE}
    events = []
    for name, plan in plans.items():
        if plan.reason and plan.reason != old.get(name):
            kind = "Warning" if plan.reason == REASON_WAITING else "Normal"
            events.append((kind, plan.reason, f"core group {name}: {plan.message}"))
    return events
