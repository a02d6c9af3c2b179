"""The decide stage of a cluster reconcile, pure: from the spec, its resolution and one round of observation
to everything the round will do — the status and Events, the task groups' sizes (managed scaling, spot
fallback), the core groups' scale-in (DataNodes decommissioned first, removed groups included), the pods'
deletion costs, and the cluster resolved again with those sizes for the build stage.

Inputs are gathered by controllers/cluster.py `observe` (the watch cache, the Spark master's report, the
NameNode's DataNode states); the writes are its `apply` stage's. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kemr.api import EMRClusterSpec, EMRClusterStatus, Endpoints, GroupRole, GroupStatus
from kemr.api.constants import LABEL_GROUP, LABEL_ROLE, ROLE_CORE, ROLE_TASK
from kemr.applications import APPLICATIONS
from kemr.config import OperatorConfig
from kemr.observe import ObservedCluster
from kemr.resolve import Resolutions, ResolvedCluster
from kemr.status import decommission as d
from kemr.status import scaling as s
from kemr.status.cluster import ChildrenMode, ClusterDecision, Event, decide
from kemr.status.conditions import SYNCED, find, synced
from kemr.status.step import startable
from kemr.validate import ValidationIssue


@dataclass(frozen=True)
class ClusterRound:
    """What the observe stage gathered for one reconcile."""

    live: list[dict[str, Any]]
    """Children the cluster owns (the kinds it applies), from the watch cache."""
    pods: list[dict[str, Any]]
    """Its master, core and task pods (not step drivers)."""
    claims: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    observed: ObservedCluster
    departing: list[d.DepartingGroup] = field(default_factory=list)
    """Core groups removed from the spec whose StatefulSet still exists (see `decommissions`)."""
    namenode: Mapping[str, str] | None = None
    """DataNode IP → admin state, when some core group shrinks and the NameNode could be asked."""
    master: Mapping[str, Any] | None = None
    """The Spark master's /json/ report, when managed scaling asked and it answered."""

    @property
    def workloads(self) -> list[dict[str, Any]]:
        return [o for o in self.live if o["kind"] in ("StatefulSet", "Deployment")]


@dataclass(frozen=True)
class ClusterPlan:
    """What one reconcile does."""

    decision: ClusterDecision
    resolved: ResolvedCluster | None = None
    """The cluster resolved with this round's sizes and exclusions: what the build stage builds."""
    scaling: s.ScalingPlan | None = None
    demand: s.Resources | None = None
    core: Mapping[str, d.CoreScaleIn] = field(default_factory=dict)
    departing: list[d.DepartingGroup] = field(default_factory=list)
    deletion_costs: Mapping[str, str] = field(default_factory=dict)
    """Task pod name → pod-deletion-cost to write (only those that changed)."""

    @property
    def held_groups(self) -> set[str]:
        """Removed core groups whose children stay until their DataNodes are out."""
        return {g.name for g in self.departing if not d.departure_done(g, self.core[g.name])}


# --- managed scaling -------------------------------------------------------------------------------------


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


def plan_task_groups(
    spec: EMRClusterSpec,
    resolved: ResolvedCluster,
    previous: EMRClusterStatus,
    observed: ObservedCluster,
    steps: Sequence[Mapping[str, Any]],
    master: Mapping[str, Any] | None,
    now: datetime,
) -> tuple[s.ScalingPlan, s.Resources]:
    """Each task group's size and on-demand stand-ins, and the executor demand they were sized for."""
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


def changed_deletion_costs(pods: Sequence[Mapping[str, Any]], master: Mapping[str, Any]) -> dict[str, str]:
    """Task pod → the cores its worker lends executors (pod-deletion-cost), so a scale-in removes idle workers
    first; only pods whose annotation differs."""
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
    return {
        name: cost
        for name, cost in costs.items()
        if (task_pods[name]["metadata"].get("annotations") or {}).get(s.DELETION_COST_ANNOTATION) != cost
    }


# --- core scale-in ---------------------------------------------------------------------------------------


def _core_inputs(
    spec: EMRClusterSpec, resolved: ResolvedCluster, round_: ClusterRound
) -> list[tuple[str, str, int, int | None, list[d.CorePod]]]:
    """(group, StatefulSet, replicas wanted, replicas now or None, its pods) per core group, removed ones
    (wanted 0) included."""

    bound = {c["metadata"]["name"] for c in round_.claims if (c.get("status") or {}).get("phase") == "Bound"}

    def members(group: str) -> list[d.CorePod]:
        found = [
            p
            for p in round_.pods
            if (p["metadata"].get("labels") or {}).get(LABEL_GROUP) == group
            and (p["metadata"].get("labels") or {}).get(LABEL_ROLE) == ROLE_CORE
        ]
        return [cp for p in found if (cp := d.core_pod(p, bound)) is not None]

    inputs = []
    for group, resolved_group in zip(spec.core_groups, resolved.core_groups, strict=True):
        seen = round_.observed.group(group.name)
        live = seen.desired if seen else None
        inputs.append((group.name, resolved_group.workload_name, group.replicas, live, members(group.name)))
    inputs += [(g.name, g.statefulset, 0, g.replicas, members(g.name)) for g in round_.departing]
    return inputs


def decommissions(resolved: ResolvedCluster) -> bool:
    """Whether a shrinking core group's members are decommissioned first (kemr.status.decommission).

    Seam: the decommission itself (kemr.status.decommission: the NameNode's DataNode states, its exclude
    list) speaks HDFS's protocol; only whether it happens is the applications' declaration."""
    return any(APPLICATIONS[app].decommissions_core for app in resolved.applications)


def core_groups_shrink(spec: EMRClusterSpec, resolved: ResolvedCluster, round_: ClusterRound) -> bool:
    """Whether some core group is below its StatefulSet's size (the NameNode must then be asked)."""
    if not decommissions(resolved):
        return False
    return any(
        live is not None and wanted < live for _, _, wanted, live, _ in _core_inputs(spec, resolved, round_)
    )


def plan_core_groups(
    spec: EMRClusterSpec, resolved: ResolvedCluster, previous: EMRClusterStatus, round_: ClusterRound
) -> dict[str, d.CoreScaleIn]:
    """Per core group (removed ones included): the StatefulSet's size, held while DataNodes decommission, the
    DataNodes to exclude and the volumes to delete."""
    if not decommissions(resolved):
        return {}
    claim_names = [c["metadata"]["name"] for c in round_.claims if not c["metadata"].get("deletionTimestamp")]
    before = {g.name: g for g in previous.groups if g.role == GroupRole.CORE}
    return {
        name: d.plan_core_scale_in(
            statefulset,
            wanted,
            live,
            pods,
            round_.namenode,
            claim_names,
            (before[name].decommissioning or []) if name in before else [],
            resolved.endpoints.urls.get("namenodeUI"),
        )
        for name, statefulset, wanted, live, pods in _core_inputs(spec, resolved, round_)
    }


# --- the whole round -------------------------------------------------------------------------------------


def endpoints_of(resolved: ResolvedCluster | None, previous: EMRClusterStatus) -> Endpoints:
    if resolved is None:
        return previous.endpoints or Endpoints()
    return Endpoints.model_validate(dict(resolved.endpoints.status))


def plan_cluster(
    spec: EMRClusterSpec,
    issues: Sequence[ValidationIssue],
    resolved: ResolvedCluster | None,
    previous: EMRClusterStatus,
    round_: ClusterRound,
    generation: int,
    created: datetime,
    now: datetime,
    config: OperatorConfig,
    resolutions: Resolutions | None = None,
) -> ClusterPlan:
    """The round's plan. `resolved` is None when the spec can't be built (`issues` say why). `resolutions`:
    where the cluster resolved with the round's sizes is remembered (a round that sizes nothing anew then
    resolves nothing); None resolves it every time."""
    decision = decide(
        spec,
        generation,
        previous,
        round_.observed,
        issues,
        endpoints_of(resolved, previous),
        created,
        now,
        config.cluster_provisioning_timeout_seconds,
    )
    if resolved is None or decision.mode != ChildrenMode.BUILD:
        return ClusterPlan(decision=decision, resolved=resolved)
    core = plan_core_groups(spec, resolved, previous, round_)
    scaling, demand = plan_task_groups(
        spec, resolved, previous, round_.observed, round_.steps, round_.master, now
    )
    memo = resolutions if resolutions is not None else Resolutions(max_entries=1)
    rescaled = memo.resolve(
        resolved.name,
        resolved.namespace,
        resolved.uid,
        generation,
        spec,
        config,
        task_replicas=scaling.replicas,
        on_demand_fallback=scaling.fallback,
        core_replicas={group: plan.statefulset_replicas for group, plan in core.items()},
        decommissioning=[ip for plan in core.values() for ip in plan.excluded_ips],
    )
    groups = s.with_scaling(
        decision.status.groups, scaling, {g.name: g.ready for g in round_.observed.fallbacks}
    )
    groups = d.with_core_scale_in(groups, core)
    taken = {g.name for g in groups}  # status.groups is keyed by name: a group re-added as a task group wins
    groups += [
        d.departing_status(g, core[g.name], seen.ready if (seen := round_.observed.group(g.name)) else 0)
        for g in round_.departing
        if not d.departure_done(g, core[g.name]) and g.name not in taken
    ]
    events = [Event(e.type, e.reason, e.message) for e in scaling.events]
    events += [Event(*e) for e in d.scale_in_events(previous.groups, core)]
    decision = dataclasses.replace(
        decision,
        status=decision.status.model_copy(update={"groups": groups}),
        events=decision.events + tuple(events),
    )
    costs = changed_deletion_costs(round_.pods, round_.master) if round_.master is not None else {}
    return ClusterPlan(decision, rescaled, scaling, demand, core, list(round_.departing), costs)


def with_apply_outcome(
    decision: ClusterDecision,
    previous: EMRClusterStatus,
    error: tuple[str, str] | None,
    generation: int,
    now: datetime,
) -> ClusterDecision:
    """The decision with the apply stage's outcome: the `Synced` condition, and a Warning Event `ApplyFailed`
    when a refusal is new. `error`: the apiserver's (reason, message), None when every write went through."""
    sync = synced(previous.conditions, error, generation, now)
    conditions = [c for c in decision.status.conditions if c.type != SYNCED] + [sync]
    events = decision.events
    old = find(previous.conditions, SYNCED)
    if error and (old is None or old.message != sync.message):
        events = (*events, Event("Warning", "ApplyFailed", error[1]))
    return dataclasses.replace(
        decision, status=decision.status.model_copy(update={"conditions": conditions}), events=events
    )
