"""Managed scaling and spot fallback of task groups: pure decisions.

The controller passes what it observed (the steps' demand, the workers' sizes, the Spark master's report when
reachable, the task pods that can't be scheduled) and the group's previous scaling state from status; this
module says how many task pods each group runs, why, and how many of a spot group's pods run on on-demand.

Demand is counted in executor cores and memory. A step asks for `spark.cores.max` cores, else
`spark.executor.instances` times `spark.executor.cores` (with `spark.dynamicAllocation.enabled`: its
`maxExecutors`, else its `initialExecutors` or `minExecutors`: as many executors as Spark may ask for), else
one worker's worth (the smallest worker's cores): the standalone master would give an app every free core,
so a step without a hint is counted at the least that lets it run. Core workers are counted first; task
groups fill the rest in spec order, each within [min, max].
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kemr.api import CapacityType, GroupRole, GroupStatus, StepState
from kemr.steptypes import stored_body

# Steps whose executors hold (or are about to hold) workers.
RUNNING_STEP_STATES = frozenset({StepState.RUNNING.value, StepState.CANCEL_PENDING.value})

_SPARK_MEMORY = re.compile(r"^\s*(\d+)\s*([kmgtp]?)b?\s*$", re.IGNORECASE)
_MEMORY_FACTOR_MIB = {"": 1.0, "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0**2, "p": 1024.0**3}


# --- demand ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """Executor cores and memory (MiB): what steps ask for, or what workers offer."""

    cores: int = 0
    memory_mib: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cores + other.cores, self.memory_mib + other.memory_mib)

    def minus(self, other: Resources) -> Resources:
        """What is left of self once `other` is covered, never negative."""
        return Resources(max(0, self.cores - other.cores), max(0, self.memory_mib - other.memory_mib))

    def times(self, n: int) -> Resources:
        return Resources(self.cores * n, self.memory_mib * n)


def spark_memory_mib(value: str | None) -> int | None:
    """Spark's memory strings ("4g", "512m", "1024": MiB by default) in MiB; None when unset or unreadable."""
    if not value:
        return None
    match = _SPARK_MEMORY.match(value)
    if not match:
        return None
    return math.ceil(int(match.group(1)) * _MEMORY_FACTOR_MIB[match.group(2).lower()])


def _positive_int(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


def step_demand(conf: Mapping[str, str], worker: Resources) -> Resources:
    """What one step's executors ask for, from its Spark properties; `worker` is the smallest worker's offer
    (one executor per worker by default, as large as that worker offers)."""
    executor_cores = _positive_int(conf.get("spark.executor.cores")) or max(1, worker.cores)
    executor_memory = spark_memory_mib(conf.get("spark.executor.memory")) or worker.memory_mib
    cores_max = _positive_int(conf.get("spark.cores.max"))
    instances = _positive_int(conf.get("spark.executor.instances"))
    if conf.get("spark.dynamicAllocation.enabled", "").strip().lower() == "true":
        # Spark asks for up to maxExecutors while tasks wait; without a bound, what it starts with.
        instances = (
            _positive_int(conf.get("spark.dynamicAllocation.maxExecutors"))
            or max(
                _positive_int(conf.get("spark.dynamicAllocation.initialExecutors")) or 0,
                _positive_int(conf.get("spark.dynamicAllocation.minExecutors")) or 0,
                instances or 0,
            )
            or None
        )
    if cores_max is not None:
        cores = cores_max
    elif instances is not None:
        cores = instances * executor_cores
    else:
        cores = max(1, worker.cores)
    by_instances = instances is not None and cores_max is None
    executors = instances if by_instances and instances else math.ceil(cores / executor_cores)
    return Resources(cores, executors * executor_memory)


def step_conf(step: Mapping[str, Any]) -> dict[str, str]:
    """The Spark properties of a step (the EMRStep as stored), key → value: its step type's (`spark.conf`),
    {} for a type without any (kemr.steptypes.StepType.conf_field)."""
    found = stored_body(step.get("spec") or {})
    return found[0].spark_conf(found[1]) if found else {}


def steps_demand(
    steps: Sequence[Mapping[str, Any]], startable: Iterable[str], worker: Resources
) -> tuple[Resources, int]:
    """Demand of the running steps and of the pending ones that may start now (stepConcurrency), and how
    many steps that is. Pending steps beyond the concurrency can't run together with these: not counted."""
    may_start = set(startable)
    total, count = Resources(), 0
    for step in steps:
        state = (step.get("status") or {}).get("state") or StepState.PENDING.value
        if state in RUNNING_STEP_STATES or step["metadata"]["name"] in may_start:
            total += step_demand(step_conf(step), worker)
            count += 1
    return total, count


@dataclass(frozen=True)
class MasterReport:
    """What the Spark master's /json/ says, when it is reachable."""

    cores: int
    cores_used: int
    memory_mib: int
    memory_used_mib: int
    waiting_apps: int


def parse_master_report(body: Mapping[str, Any]) -> MasterReport:
    apps = body.get("activeapps") or []
    return MasterReport(
        cores=int(body.get("cores", 0)),
        cores_used=int(body.get("coresused", 0)),
        memory_mib=int(body.get("memory", 0)),
        memory_used_mib=int(body.get("memoryused", 0)),
        waiting_apps=sum(1 for app in apps if app.get("state") == "WAITING"),
    )


def master_demand(report: MasterReport, worker: Resources) -> Resources:
    """What the master says is in use, plus one worker for each application it can't place at all."""
    return Resources(report.cores_used, report.memory_used_mib) + worker.times(report.waiting_apps)


# --- targets ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskGroupBounds:
    name: str
    min_replicas: int
    max_replicas: int
    worker: Resources  # what one task worker offers executors


def _workers_for(need: Resources, worker: Resources) -> int:
    by_cores = math.ceil(need.cores / worker.cores) if worker.cores else 0
    by_memory = math.ceil(need.memory_mib / worker.memory_mib) if worker.memory_mib else 0
    return max(by_cores, by_memory)


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def task_targets(
    demand: Resources, core_capacity: Resources, groups: Sequence[TaskGroupBounds]
) -> dict[str, int]:
    """Task pods per group so that core + task workers cover the demand: groups fill in spec order, each
    within [minReplicas, maxReplicas] (a group's minimum counts as capacity even when it isn't needed)."""
    remaining = demand.minus(core_capacity)
    targets = {}
    for group in groups:
        target = clamp(_workers_for(remaining, group.worker), group.min_replicas, group.max_replicas)
        targets[group.name] = target
        remaining = remaining.minus(group.worker.times(target))
    return targets


# --- cooldown and stabilization --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalingPolicy:
    cooldown_seconds: int
    stabilization_seconds: int


@dataclass(frozen=True)
class GroupScalingState:
    """A task group's scaling state, kept in its status between reconciles."""

    desired: int
    last_scale_time: datetime | None = None
    scale_down_since: datetime | None = None  # since when the target has been below `desired`
    reason: str = "Initial"
    message: str = ""


@dataclass(frozen=True)
class GroupScalingDecision:
    state: GroupScalingState
    changed: bool  # desired changed: record an Event and a metric
    recheck_after: float | None  # seconds until cooldown or stabilization ends


REASON_SCALE_UP = "ScaleUp"
REASON_SCALE_DOWN = "ScaleDown"
REASON_BOUNDS = "Bounds"
REASON_COOLDOWN = "Cooldown"
REASON_STABILIZING = "Stabilizing"
REASON_STEADY = "Steady"
REASON_MANUAL = "Manual"


def _elapsed(since: datetime | None, now: datetime) -> float:
    return math.inf if since is None else (now - since).total_seconds()


def decide_group(
    previous: GroupScalingState,
    target: int,
    bounds: TaskGroupBounds,
    policy: ScalingPolicy,
    now: datetime,
    why: str,
) -> GroupScalingDecision:
    """Move `desired` toward `target`: up at once unless in cooldown after the last change, down only once the
    target has stayed lower for the stabilization window (and cooldown passed). Never outside [min, max]."""
    current = previous.desired
    bounded = clamp(current, bounds.min_replicas, bounds.max_replicas)
    if bounded != current:  # the spec's bounds moved: follow them at once
        state = GroupScalingState(
            bounded,
            now,
            None,
            REASON_BOUNDS,
            f"{current} → {bounded}: outside [{bounds.min_replicas}, {bounds.max_replicas}]",
        )
        return GroupScalingDecision(state, True, None)
    cooldown_left = policy.cooldown_seconds - _elapsed(previous.last_scale_time, now)
    if target > current:
        if cooldown_left > 0:
            state = replace(
                previous,
                scale_down_since=None,
                reason=REASON_COOLDOWN,
                message=f"wants {target} ({why}); cooling down after the last change",
            )
            return GroupScalingDecision(state, False, cooldown_left)
        state = GroupScalingState(target, now, None, REASON_SCALE_UP, f"{current} → {target}: {why}")
        return GroupScalingDecision(state, True, None)
    if target < current:
        since = previous.scale_down_since or now
        stabilizing_left = policy.stabilization_seconds - _elapsed(since, now)
        wait = max(cooldown_left, stabilizing_left)
        if wait > 0:
            state = replace(
                previous,
                scale_down_since=since,
                reason=REASON_STABILIZING,
                message=f"wants {target} ({why}) once demand stays low for {policy.stabilization_seconds}s",
            )
            return GroupScalingDecision(state, False, wait)
        state = GroupScalingState(target, now, None, REASON_SCALE_DOWN, f"{current} → {target}: {why}")
        return GroupScalingDecision(state, True, None)
    keep = previous.reason in (REASON_SCALE_UP, REASON_SCALE_DOWN, REASON_BOUNDS, REASON_MANUAL, "Initial")
    state = replace(
        previous,
        scale_down_since=None,
        reason=previous.reason if keep else REASON_STEADY,
        message=previous.message if keep else why,
    )
    return GroupScalingDecision(state, False, None)


def demand_summary(demand: Resources, capacity: Resources, steps: int) -> str:
    return (
        f"{steps} step(s) need {demand.cores} cores, {demand.memory_mib}Mi;"
        f" core workers offer {capacity.cores} cores, {capacity.memory_mib}Mi"
    )


# --- spot fallback ---------------------------------------------------------------------------------------


def fallback_replicas(
    unschedulable: Iterable[datetime], after_seconds: int, desired: int, now: datetime
) -> tuple[int, float | None]:
    """On-demand pods a spot group runs: one for each spot pod unschedulable for `after_seconds` or more (the
    shortfall), at most `desired`. The spot pods stay, pending: when spot capacity returns they are scheduled
    and the fallback shrinks with them. Also the seconds until the next pending pod becomes due."""
    due, next_due = 0, None
    for since in unschedulable:
        left = after_seconds - (now - since).total_seconds()
        if left <= 0:
            due += 1
        else:
            next_due = left if next_due is None else min(next_due, left)
    return min(due, desired), next_due


# --- scale-in order --------------------------------------------------------------------------------------

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


def deletion_costs(pod_ips: Mapping[str, str], cores_used_by_host: Mapping[str, int]) -> dict[str, str]:
    """pod name → pod-deletion-cost: the cores its worker lends executors, so that on scale-in the ReplicaSet
    removes idle workers first (lower cost goes first). Workers the master doesn't know count as idle."""
    return {name: str(cores_used_by_host.get(ip, 0)) for name, ip in pod_ips.items()}


def workers_cores_used(report_body: Mapping[str, Any]) -> dict[str, int]:
    """worker host (the pod IP the worker registered with) → cores in use, from the master's /json/."""
    used = {}
    for worker in report_body.get("workers") or []:
        if worker.get("state") == "ALIVE" and worker.get("host"):
            used[str(worker["host"])] = int(worker.get("coresused", 0))
    return used


# --- the whole cluster -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskGroupInput:
    """One task group as the plan needs it: bounds and worker size, spot fallback, the last decision."""

    bounds: TaskGroupBounds
    initial: int  # spec.replicas, else minReplicas
    spot_fallback_after: int | None  # seconds; None: no fallback (on-demand group, or not asked for)
    previous: GroupScalingState | None  # None before managed scaling first decided
    unschedulable: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class ScalingEvent:
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class TaskGroupPlan:
    state: GroupScalingState
    on_demand_fallback: int


@dataclass(frozen=True)
class ScalingPlan:
    groups: Mapping[str, TaskGroupPlan]
    events: tuple[ScalingEvent, ...]
    recheck_after: float | None

    @property
    def replicas(self) -> dict[str, int]:
        return {name: plan.state.desired for name, plan in self.groups.items()}

    @property
    def fallback(self) -> dict[str, int]:
        return {name: p.on_demand_fallback for name, p in self.groups.items() if p.on_demand_fallback}


def plan_task_groups(
    groups: Sequence[TaskGroupInput],
    *,
    managed: ScalingPolicy | None,
    demand: Resources,
    core_capacity: Resources,
    why: str,
    previous_fallback: Mapping[str, int],
    now: datetime,
) -> ScalingPlan:
    """Every task group's size and on-demand stand-ins. `managed` None: managed scaling is off and each group
    runs its `initial` size (spec.replicas or minReplicas)."""
    targets = task_targets(demand, core_capacity, [g.bounds for g in groups]) if managed else {}
    plans: dict[str, TaskGroupPlan] = {}
    events: list[ScalingEvent] = []
    waits: list[float] = []
    for group in groups:
        name = group.bounds.name
        if managed is None:
            state = GroupScalingState(group.initial, reason=REASON_MANUAL, message="managed scaling is off")
            changed = group.previous is not None and group.previous.desired != group.initial
        else:
            previous = group.previous or GroupScalingState(group.initial)
            decision = decide_group(previous, targets[name], group.bounds, managed, now, why)
            state, changed = decision.state, decision.changed
            if decision.recheck_after is not None:
                waits.append(decision.recheck_after)
        if changed:
            events.append(ScalingEvent("Normal", state.reason, f"task group {name}: {state.message}"))
        fallback = 0
        if group.spot_fallback_after is not None:
            fallback, due = fallback_replicas(
                group.unschedulable, group.spot_fallback_after, state.desired, now
            )
            if due is not None:
                waits.append(due)
            events.extend(_fallback_events(name, previous_fallback.get(name, 0), fallback, group))
        plans[name] = TaskGroupPlan(state, fallback)
    return ScalingPlan(plans, tuple(events), min(waits) + 0.5 if waits else None)


def _fallback_events(name: str, before: int, after: int, group: TaskGroupInput) -> list[ScalingEvent]:
    if after > before:
        return [
            ScalingEvent(
                "Warning",
                "SpotFallback",
                f"task group {name}: {after} pod(s) on on-demand capacity, spot pods unschedulable for"
                f" {group.spot_fallback_after}s",
            )
        ]
    if after < before:
        detail = "spot capacity is back" if after == 0 else f"{after} pod(s) still on on-demand"
        return [ScalingEvent("Normal", "SpotRestored", f"task group {name}: {detail}")]
    return []


def with_scaling(
    groups: Sequence[GroupStatus], plan: ScalingPlan, fallback_ready: Mapping[str, int]
) -> list[GroupStatus]:
    """The groups' status with the plan's decisions: a task group's desired size and why, and its on-demand
    stand-ins (counted as ready pods of the group; the group shows on-demand while any run)."""
    result = []
    for group in groups:
        decided = plan.groups.get(group.name) if group.role == GroupRole.TASK else None
        if decided is None:
            result.append(group)
            continue
        state, fallback = decided.state, decided.on_demand_fallback
        result.append(
            group.model_copy(
                update={
                    "desired": state.desired,
                    "ready": group.ready + fallback_ready.get(group.name, 0),
                    "reason": state.reason,
                    "message": state.message or None,
                    "last_scale_time": state.last_scale_time,
                    "scale_down_since": state.scale_down_since,
                    "on_demand_fallback": fallback if group.capacity_type == CapacityType.SPOT else None,
                    "capacity_type": CapacityType.ON_DEMAND if fallback else group.capacity_type,
                }
            )
        )
    return result
