"""Managed scaling and spot fallback, wired: gather the inputs the pure plan needs (steps, worker sizes, the
Spark master's report when reachable, unschedulable task pods, the last decisions from status), then export
each decision as metrics. The decisions themselves are in kemr.status.scaling."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from kemr.api import EMRClusterSpec, EMRClusterStatus, GroupRole, GroupStatus
from kemr.api.constants import LABEL_GROUP, LABEL_ROLE, ROLE_CORE, ROLE_TASK
from kemr.apply.ssa import merge_patch
from kemr.metrics import SCALING_DECISIONS, SPOT_FALLBACK_PODS, TASK_DEMAND_CORES, TASK_DESIRED
from kemr.observe import ObservedCluster
from kemr.resolve import ResolvedCluster
from kemr.runtime.client import ApiError, Client
from kemr.status import decommission as d
from kemr.status import scaling as s
from kemr.status.step import startable

log = logging.getLogger(__name__)

MASTER_TIMEOUT_SECONDS = 0.5  # the master answers in milliseconds when it is there at all
# After a failure, don't ask again for this long: no log spam, no slow reconciles.
MASTER_RETRY_SECONDS = 60.0


@dataclass
class _MasterProbe:
    next_try: float = 0.0
    reachable: bool | None = None


_probes: dict[tuple[str, str], _MasterProbe] = {}


async def master_report(namespace: str, cluster: str, web_ui: str) -> dict[str, Any] | None:
    """The Spark master's /json/, or None when it can't be had (not up yet, or not reachable from where the
    operator runs: e.g. the operator outside the cluster, or kwok pods). One short try, then a pause."""
    probe = _probes.setdefault((namespace, cluster), _MasterProbe())
    if time.monotonic() < probe.next_try:
        return None
    try:
        timeout = aiohttp.ClientTimeout(total=MASTER_TIMEOUT_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{web_ui.rstrip('/')}/json/") as response,
        ):
            response.raise_for_status()
            body: dict[str, Any] = json.loads(await response.text())
    except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as err:
        probe.next_try = time.monotonic() + MASTER_RETRY_SECONDS
        if probe.reachable is not False:  # log the change, not every failure
            log.info("%s/%s: Spark master unreachable (%s); scaling from the steps", namespace, cluster, err)
        probe.reachable = False
        return None
    if probe.reachable is not True:
        log.info("%s/%s: Spark master reachable; scaling also from its report", namespace, cluster)
    probe.reachable = True
    return body


def forget(namespace: str, cluster: str) -> None:
    _probes.pop((namespace, cluster), None)


def smallest_worker(resolved: ResolvedCluster) -> s.Resources:
    workers = [
        s.Resources(g.worker_cores or 0, g.worker_memory_mib or 0)
        for g in (*resolved.core_groups, *resolved.task_groups)
    ]
    if not workers:
        return s.Resources(1, 0)
    return s.Resources(min(w.cores for w in workers), min(w.memory_mib for w in workers))


def core_capacity(resolved: ResolvedCluster) -> s.Resources:
    total = s.Resources()
    for group in resolved.core_groups:
        total += s.Resources(group.worker_cores or 0, group.worker_memory_mib or 0).times(group.replicas)
    return total


def _previous_state(status: GroupStatus | None) -> s.GroupScalingState | None:
    if status is None or status.reason is None or status.reason == s.REASON_MANUAL:
        return None
    return s.GroupScalingState(
        desired=status.desired,
        last_scale_time=status.last_scale_time,
        scale_down_since=status.scale_down_since,
        reason=status.reason,
        message=status.message or "",
    )


def plan(
    spec: EMRClusterSpec,
    resolved: ResolvedCluster,
    previous: EMRClusterStatus,
    observed: ObservedCluster,
    steps: Sequence[Mapping[str, Any]],
    master: Mapping[str, Any] | None,
    now: datetime,
) -> tuple[s.ScalingPlan, s.Resources]:
    worker = smallest_worker(resolved)
    demand, count = s.steps_demand(steps, startable(steps, spec.step_concurrency), worker)
    why = s.demand_summary(demand, core_capacity(resolved), count)
    if master is not None:
        reported = s.master_demand(s.parse_master_report(master), worker)
        demand = s.Resources(max(demand.cores, reported.cores), max(demand.memory_mib, reported.memory_mib))
        why += f"; the Spark master reports {reported.cores} cores in use or waited for"
    previous_groups = {g.name: g for g in previous.groups if g.role == GroupRole.TASK}
    inputs = []
    for group, resolved_group in zip(spec.task_groups, resolved.task_groups, strict=True):
        fallback = group.spot_fallback.after_seconds if group.spot_fallback else None
        inputs.append(
            s.TaskGroupInput(
                bounds=s.TaskGroupBounds(
                    group.name,
                    group.min_replicas,
                    group.max_replicas,
                    s.Resources(resolved_group.worker_cores or 1, resolved_group.worker_memory_mib or 0),
                ),
                initial=group.replicas if group.replicas is not None else group.min_replicas,
                spot_fallback_after=fallback if group.capacity_type == "spot" else None,
                previous=_previous_state(previous_groups.get(group.name)),
                unschedulable=observed.unschedulable.get(group.name, ()),
            )
        )
    managed = spec.managed_scaling
    policy = (
        s.ScalingPolicy(managed.cooldown_seconds, managed.scale_down_stabilization_seconds)
        if managed.enabled
        else None
    )
    previous_fallback = {name: g.on_demand_fallback or 0 for name, g in previous_groups.items()}
    result = s.plan_task_groups(
        inputs,
        managed=policy,
        demand=demand,
        core_capacity=core_capacity(resolved),
        why=why,
        previous_fallback=previous_fallback,
        now=now,
    )
    return result, demand


def record(namespace: str, cluster: str, result: s.ScalingPlan, demand: s.Resources) -> None:
    TASK_DEMAND_CORES.labels(namespace, cluster).set(demand.cores)
    for name, group in result.groups.items():
        TASK_DESIRED.labels(namespace, cluster, name).set(group.state.desired)
        SPOT_FALLBACK_PODS.labels(namespace, cluster, name).set(group.on_demand_fallback)
    for event in result.events:
        SCALING_DECISIONS.labels(namespace, event.reason).inc()


def forget_metrics(namespace: str, cluster: str, groups: Sequence[str]) -> None:
    for collector, labels in (
        (TASK_DEMAND_CORES, [(namespace, cluster)]),
        (TASK_DESIRED, [(namespace, cluster, g) for g in groups]),
        (SPOT_FALLBACK_PODS, [(namespace, cluster, g) for g in groups]),
    ):
        for values in labels:
            with contextlib.suppress(KeyError):
                collector.remove(*values)


# --- core scale-in ---------------------------------------------------------------------------------------

NAMENODE_RETRY_SECONDS = 10.0  # a decommission waits on the NameNode: ask again soon, quietly
DECOMMISSION_RECHECK_SECONDS = 10.0


async def namenode_states(
    namespace: str, cluster: str, namenode_ui: str, kube: Client | None = None
) -> dict[str, str] | None:
    """DataNode IP → admin state from the NameNode's JMX, or None when it can't be asked. Directly first (an
    operator in the cluster); then, when `kube` is given, through the apiserver's service proxy: an operator
    outside the cluster (a host process) can't resolve `<svc>.<ns>.svc`, and without this a core scale-in
    would wait forever."""
    probe = _probes.setdefault((namespace, f"{cluster}/namenode"), _MasterProbe())
    if time.monotonic() < probe.next_try:
        return None
    url = f"{namenode_ui.rstrip('/')}/jmx?qry={d.NAMENODE_INFO_QUERY}"
    errors: list[str] = []
    states = None
    try:
        timeout = aiohttp.ClientTimeout(total=MASTER_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            response.raise_for_status()
            states = d.namenode_admin_states(json.loads(await response.text()))
    except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as err:
        errors.append(f"{url}: {err}")
    proxy = d.service_proxy_path(namenode_ui, "/jmx") if states is None and kube is not None else None
    if proxy is not None and kube is not None:
        try:
            states = d.namenode_admin_states(
                await kube.request("GET", proxy, query={"qry": d.NAMENODE_INFO_QUERY})
            )
        except (ApiError, TimeoutError, aiohttp.ClientError, ValueError, OSError) as err:
            errors.append(f"apiserver proxy {proxy}: {err}")
    if states is None:
        probe.next_try = time.monotonic() + NAMENODE_RETRY_SECONDS
        if probe.reachable is not False:
            log.info(
                "%s/%s: NameNode unreachable (%s): decommissions wait", namespace, cluster, "; ".join(errors)
            )
        probe.reachable = False
        return None
    if probe.reachable is not True:
        log.info("%s/%s: NameNode reachable; decommissions follow its report", namespace, cluster)
    probe.reachable = True
    return states


async def plan_core_scale_in(
    spec: EMRClusterSpec,
    resolved: ResolvedCluster,
    previous: EMRClusterStatus,
    observed: ObservedCluster,
    pods: Sequence[Mapping[str, Any]],
    claims: Sequence[Mapping[str, Any]],
    kube: Client | None = None,
    departing: Sequence[d.DepartingGroup] = (),
) -> dict[str, d.CoreScaleIn]:
    """Per core group: the StatefulSet's size (held while DataNodes decommission), the DataNodes to exclude,
    the volumes to delete. `departing` groups (removed from the spec) scale in to 0 the same way. Asks the
    NameNode only while some group shrinks."""
    if not resolved.hdfs_enabled:
        return {}
    claim_names = [c["metadata"]["name"] for c in claims if not c["metadata"].get("deletionTimestamp")]
    before = {g.name: g for g in previous.groups if g.role == GroupRole.CORE}

    def members(group: str) -> list[d.CorePod]:
        found = [
            p
            for p in pods
            if (p["metadata"].get("labels") or {}).get(LABEL_GROUP) == group
            and (p["metadata"].get("labels") or {}).get(LABEL_ROLE) == ROLE_CORE
        ]
        return [cp for p in found if (cp := d.core_pod(p)) is not None]

    # (group, StatefulSet, replicas wanted, replicas now or None, its pods)
    inputs = []
    for group, resolved_group in zip(spec.core_groups, resolved.core_groups, strict=True):
        seen = observed.group(group.name)
        live = seen.desired if seen else None
        inputs.append((group.name, resolved_group.workload_name, group.replicas, live, members(group.name)))
    inputs += [(g.name, g.statefulset, 0, g.replicas, members(g.name)) for g in departing]
    shrinking = any(live is not None and wanted < live for _, _, wanted, live, _ in inputs)
    namenode = None
    if shrinking and resolved.endpoints.namenode_ui:
        namenode = await namenode_states(
            resolved.namespace, resolved.name, resolved.endpoints.namenode_ui, kube
        )
    return {
        name: d.plan_core_scale_in(
            statefulset,
            wanted,
            live,
            core_pods,
            namenode,
            claim_names,
            (before[name].decommissioning or []) if name in before else [],
            resolved.endpoints.namenode_ui,
        )
        for name, statefulset, wanted, live, core_pods in inputs
    }


async def apply_deletion_costs(
    kube: Client, pods: Sequence[Mapping[str, Any]], master: Mapping[str, Any]
) -> int:
    """Mark each task pod with the cores its worker lends executors (pod-deletion-cost), so that a scale-in
    removes idle workers first. Needs the master's report; writes only changed costs (returns how many)."""
    task_pods = {
        p["metadata"]["name"]: p
        for p in pods
        if (p["metadata"].get("labels") or {}).get(LABEL_ROLE) == ROLE_TASK
        and (p.get("status") or {}).get("podIP")
        and not p["metadata"].get("deletionTimestamp")
    }
    costs = s.deletion_costs(
        {name: p["status"]["podIP"] for name, p in task_pods.items()}, s.workers_cores_used(master)
    )
    writes = 0
    for name, cost in costs.items():
        pod = task_pods[name]
        if (pod["metadata"].get("annotations") or {}).get(s.DELETION_COST_ANNOTATION) == cost:
            continue
        patch = {"metadata": {"annotations": {s.DELETION_COST_ANNOTATION: cost}}}
        try:
            await merge_patch(kube, {"apiVersion": "v1", "kind": "Pod", "metadata": pod["metadata"]}, patch)
            writes += 1
        except ApiError as err:
            if not err.not_found:  # a pod gone meanwhile needs no cost
                raise
    return writes
