"""The EMRCluster lifecycle, as EMR's: STARTING → BOOTSTRAPPING → WAITING ⇄ RUNNING → TERMINATING →
TERMINATED (or TERMINATED_WITH_ERRORS), with conditions Ready / Progressing / Reconciling / Degraded / Stalled
for kstatus, Flux and Argo CD.

Everything here is pure: the controller passes the spec, the previous status, what it observed and the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from kemr.api import (
    CLUSTER_FINAL_STATES,
    CapacityType,
    ClusterState,
    ClusterStateChangeReason,
    ClusterStateChangeReasonCode,
    ClusterTimeline,
    Condition,
    EMRClusterSpec,
    EMRClusterStatus,
    Endpoints,
    GroupRole,
    GroupStatus,
    StepCounts,
    StepState,
)
from kemr.observe import ObservedCluster
from kemr.status.conditions import condition
from kemr.validate import ValidationIssue

Code = ClusterStateChangeReasonCode
ERROR_CODES = frozenset(
    {
        Code.INTERNAL_ERROR,
        Code.VALIDATION_ERROR,
        Code.INSTANCE_FAILURE,
        Code.INSTANCE_FLEET_TIMEOUT,
        Code.BOOTSTRAP_FAILURE,
        Code.STEP_FAILURE,
    }
)


class ChildrenMode(Enum):
    """What the reconcile does with the children this round."""

    BUILD = "build"  # apply the full desired set
    HOLD = "hold"  # invalid spec: touch nothing, so nothing already running is lost
    TEARDOWN = "teardown"  # terminating: delete every child, pods and volumes included


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class ClusterDecision:
    status: EMRClusterStatus
    mode: ChildrenMode
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None  # seconds until a timed transition (idle timeout, max lifetime)


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def startup_failure(
    previous: EMRClusterStatus,
    observed: ObservedCluster,
    issues: Sequence[ValidationIssue],
    created: datetime,
    now: datetime,
    provisioning_timeout: float,
) -> ClusterStateChangeReason | None:
    """Why a cluster that has never been ready can't start, as EMR ends such a cluster: a bootstrap action
    exited non-zero (BOOTSTRAP_FAILURE), the spec can't be built (VALIDATION_ERROR), or the master and core
    nodes weren't ready within `provisioning_timeout` seconds of creation (INSTANCE_FAILURE, with the pods'
    problems). None for a cluster that was ready once: its spec errors hold the children instead."""
    if previous.timeline is not None and previous.timeline.ready is not None:
        return None
    if observed.bootstrap_failures:
        return ClusterStateChangeReason(
            code=Code.BOOTSTRAP_FAILURE,
            message="; ".join(observed.bootstrap_failures) + " (see spec.bootstrapActions)",
        )
    if issues:
        return ClusterStateChangeReason(code=Code.VALIDATION_ERROR, message="; ".join(str(i) for i in issues))
    if _seconds(now - created) >= provisioning_timeout:
        problems = "; ".join(observed.daemon_problems + observed.dependency_problems)
        problems = problems or "no pod reported a problem"
        return ClusterStateChangeReason(
            code=Code.INSTANCE_FAILURE,
            message=f"Master and core nodes were not ready within {provisioning_timeout:.0f}s: {problems}",
        )
    return None


def termination_reason(
    spec: EMRClusterSpec,
    previous: EMRClusterStatus,
    observed: ObservedCluster,
    created: datetime,
    idle_since: datetime | None,
    now: datetime,
    startup: ClusterStateChangeReason | None = None,
) -> ClusterStateChangeReason | None:
    """Why the cluster must terminate now, if it must (`startup`: why it can't start, see startup_failure).
    Once TERMINATING the reason sticks."""
    if previous.state == ClusterState.TERMINATING and previous.state_change_reason:
        return previous.state_change_reason
    if spec.terminate:
        return ClusterStateChangeReason(code=Code.USER_REQUEST, message="Terminated at user request")
    if startup:  # termination protection guards a running cluster; one that can't start has nothing to guard
        return startup
    if spec.termination_protected:
        return None  # automatic termination never applies to a protected cluster, as in EMR
    if observed.steps.terminate_cluster_failure:
        name = observed.steps.terminate_cluster_failure
        return ClusterStateChangeReason(
            code=Code.STEP_FAILURE, message=f"Step {name} failed and its actionOnFailure is TERMINATE_CLUSTER"
        )
    auto = spec.auto_termination
    if auto.max_lifetime_seconds and _seconds(now - created) >= auto.max_lifetime_seconds:
        return ClusterStateChangeReason(
            code=Code.MAX_LIFETIME,
            message=f"Cluster reached its maximum lifetime of {auto.max_lifetime_seconds}s",
        )
    if previous.timeline is None or previous.timeline.ready is None or observed.steps.active:
        return None
    if not auto.keep_alive_when_no_steps:
        return ClusterStateChangeReason(code=Code.ALL_STEPS_COMPLETED, message="Steps completed")
    if observed.notebook_busy:  # an attached notebook's kernel is running something
        return None
    idle_since = max(filter(None, (idle_since, observed.notebook_last_activity)), default=None)
    if auto.idle_timeout_seconds and idle_since and _seconds(now - idle_since) >= auto.idle_timeout_seconds:
        return ClusterStateChangeReason(
            code=Code.IDLE_TIMEOUT, message=f"Cluster was idle for {auto.idle_timeout_seconds}s"
        )
    return None


def idle_timeout_due(
    spec: EMRClusterSpec,
    previous: EMRClusterStatus,
    observed: ObservedCluster,
    created: datetime,
    now: datetime,
) -> bool:
    """Whether this round would end the cluster for its idle timeout (and nothing earlier in
    termination_reason's order): the round then reads its notebooks' kernels afresh before deciding."""
    if previous.state != ClusterState.WAITING:
        return False
    reason = termination_reason(spec, previous, observed, created, previous.idle_since, now)
    return reason is not None and reason.code == Code.IDLE_TIMEOUT


def _groups_status(spec: EMRClusterSpec, observed: ObservedCluster) -> list[GroupStatus]:
    on_demand = CapacityType.ON_DEMAND
    wanted = [("master", GroupRole.MASTER, on_demand)]
    wanted += [(g.name, GroupRole.CORE, on_demand) for g in spec.core_groups]
    wanted += [(g.name, GroupRole.TASK, g.capacity_type) for g in spec.task_groups]
    result = []
    for name, role, capacity in wanted:
        seen = observed.group(name)
        result.append(
            GroupStatus(
                name=name,
                role=role,
                capacity_type=capacity,
                desired=seen.desired if seen else 0,
                ready=seen.ready if seen else 0,
            )
        )
    return result


def _daemons_ready(groups: Sequence[GroupStatus]) -> bool:
    """EMR's "ready": the master and every core node are up (task nodes come and go)."""
    daemons = [g for g in groups if g.role in (GroupRole.MASTER, GroupRole.CORE)]
    return bool(daemons) and all(g.desired > 0 and g.ready >= g.desired for g in daemons)


def _next_state(
    previous: EMRClusterStatus,
    terminating: ClusterStateChangeReason | None,
    observed: ObservedCluster,
    daemons_ready: bool,
    bootstraps: bool,
) -> ClusterState:
    if previous.state in CLUSTER_FINAL_STATES:
        return previous.state
    if terminating:
        if observed.remaining:
            return ClusterState.TERMINATING
        failed = terminating.code in ERROR_CODES
        return ClusterState.TERMINATED_WITH_ERRORS if failed else ClusterState.TERMINATED
    ever_ready = previous.timeline is not None and previous.timeline.ready is not None
    if ever_ready or daemons_ready:
        return ClusterState.RUNNING if observed.steps.count(StepState.RUNNING) else ClusterState.WAITING
    if bootstraps and observed.initializing_pods:
        return ClusterState.BOOTSTRAPPING
    return ClusterState.STARTING


def _step_counts(observed: ObservedCluster) -> StepCounts:
    s = observed.steps
    return StepCounts(
        pending=s.count(StepState.PENDING),
        running=s.count(StepState.RUNNING, StepState.CANCEL_PENDING),
        completed=s.count(StepState.COMPLETED),
        failed=s.count(StepState.FAILED),
        cancelled=s.count(StepState.CANCELLED),
    )


def _idle_since(
    state: ClusterState, previous: EMRClusterStatus, observed: ObservedCluster, ready_at: datetime | None
) -> datetime | None:
    """Idle time counts from the latest of readiness, the last step's end and an attached notebook's last
    kernel activity, while no step is active and no notebook's kernel is busy (EMR's rule)."""
    if state != ClusterState.WAITING or observed.steps.active or observed.notebook_busy or ready_at is None:
        return None
    times = (ready_at, observed.steps.last_end_time, observed.notebook_last_activity, previous.idle_since)
    candidates = [t for t in times if t]
    return max(candidates)


def decide(
    spec: EMRClusterSpec,
    generation: int,
    previous: EMRClusterStatus,
    observed: ObservedCluster,
    issues: Sequence[ValidationIssue],
    endpoints: Endpoints,
    created: datetime,
    now: datetime,
    provisioning_timeout: float = 900,
) -> ClusterDecision:
    """The cluster's next status and what to do with its children. `provisioning_timeout` (seconds from
    creation) bounds how long the master and core nodes may take to become ready."""
    prev_state = previous.state or None
    prev_timeline = previous.timeline or ClusterTimeline(created=created)
    groups = _groups_status(spec, observed)
    # Ready: the master and core nodes, and what they depend on (the DataCatalog of spec.catalog).
    daemons_ready = _daemons_ready(groups) and not observed.dependency_problems
    startup = None
    if not daemons_ready and previous.state not in CLUSTER_FINAL_STATES:
        startup = startup_failure(previous, observed, issues, created, now, provisioning_timeout)
    terminating = termination_reason(spec, previous, observed, created, previous.idle_since, now, startup)
    state = _next_state(previous, terminating, observed, daemons_ready, bool(spec.bootstrap_actions))
    final = state in CLUSTER_FINAL_STATES

    ready_at = prev_timeline.ready or (now if state in (ClusterState.WAITING, ClusterState.RUNNING) else None)
    ended_at = prev_timeline.ended or (now if final else None)
    ending = state == ClusterState.TERMINATING or final
    terminating_at = prev_timeline.terminating or (now if ending else None)
    timeline = ClusterTimeline(
        created=prev_timeline.created or created, ready=ready_at, terminating=terminating_at, ended=ended_at
    )
    idle_since = _idle_since(state, previous, observed, ready_at)

    if terminating or final:
        reason = terminating or previous.state_change_reason
    elif state in (ClusterState.WAITING, ClusterState.RUNNING):
        reason = ClusterStateChangeReason(
            message="Cluster ready" if state == ClusterState.WAITING else "Running steps"
        )
    elif observed.daemon_problems or observed.dependency_problems:  # within the timeout: what is in the way
        problems = observed.daemon_problems + observed.dependency_problems
        reason = ClusterStateChangeReason(
            message="Provisioning master and core nodes: " + "; ".join(problems)
        )
    else:
        reason = ClusterStateChangeReason(message="Provisioning master and core nodes")

    if final or terminating:
        mode = ChildrenMode.TEARDOWN
    elif issues:
        mode = ChildrenMode.HOLD
    else:
        mode = ChildrenMode.BUILD

    stalled_message = "; ".join(str(i) for i in issues)
    conditions = _conditions(
        previous, state, reason, groups, observed, daemons_ready, stalled_message, generation, now
    )

    status = EMRClusterStatus(
        state=state,
        state_change_reason=reason,
        observed_generation=generation,
        conditions=conditions,
        endpoints=None if final else endpoints,
        groups=groups,
        ready_groups=f"{sum(1 for g in groups if g.desired and g.ready >= g.desired)}/{len(groups)}",
        steps=_step_counts(observed),
        timeline=timeline,
        last_step_end_time=observed.steps.last_end_time or previous.last_step_end_time,
        idle_since=idle_since,
    )
    events = list(_transition_events(prev_state, state, reason))
    if issues and not any(c.type == "Stalled" and c.status == "True" for c in previous.conditions):
        events.append(Event("Warning", "InvalidSpec", stalled_message))
    if observed.dependency_problems and not final and reason != previous.state_change_reason:
        # What it waits for outside itself (its DataCatalog): said at once, from the first round on.
        events.append(Event("Warning", "DependencyNotReady", "; ".join(observed.dependency_problems)))
    problems = observed.daemon_problems
    if state == prev_state and problems and reason and reason != previous.state_change_reason:
        events.append(Event("Warning", "ProvisioningProblem", reason.message or ""))
    deadline = _next_deadline(spec, created, idle_since, now, state)
    if state in (ClusterState.STARTING, ClusterState.BOOTSTRAPPING):
        due = max(0.0, provisioning_timeout - _seconds(now - created)) + 0.5
        deadline = min(filter(None, (deadline, due)), default=due)
    return ClusterDecision(status=status, mode=mode, events=tuple(events), requeue_after=deadline)


# Terminations that did what was asked: the cluster reached its wanted end, so it is Ready (kstatus Current,
# `kubectl wait --for=condition=Ready` returns). Any other end needs a human: Stalled (kstatus Failed).
NORMAL_ENDS = frozenset({Code.ALL_STEPS_COMPLETED, Code.USER_REQUEST, Code.IDLE_TIMEOUT})


def _conditions(
    previous: EMRClusterStatus,
    state: ClusterState,
    reason: ClusterStateChangeReason | None,
    groups: Sequence[GroupStatus],
    observed: ObservedCluster,
    daemons_ready: bool,
    stalled_message: str,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """Ready / Progressing / Reconciling / Degraded / Stalled, the conditions kstatus, Flux and Argo CD read.

    Reconciling mirrors Progressing because kstatus reads only Reconciling (docs/gitops.md, "kstatus")."""
    final = state in CLUSTER_FINAL_STATES
    in_service = state in (ClusterState.WAITING, ClusterState.RUNNING)
    summary = f"{state.value}: {reason.message}" if reason and reason.message else state.value

    code = reason.code if reason else None
    ended_normally = state == ClusterState.TERMINATED and code in NORMAL_ENDS
    ended_abnormally = final and not ended_normally

    ready = not stalled_message and ((in_service and daemons_ready) or ended_normally)
    ready_reason = _camel(state.value)  # Starting, Terminating, ...
    if ready:
        ready_reason = "Terminated" if ended_normally else "ClusterReady"

    rolling = [g.name for g in observed.groups if not g.complete]
    transitional = state in (ClusterState.STARTING, ClusterState.BOOTSTRAPPING, ClusterState.TERMINATING)
    # A stalled cluster waits for a spec fix, its children held: not progressing. kstatus reads Reconciling
    # before Stalled, so Reconciling=True here would hide the failure as InProgress.
    progressing = not final and not stalled_message and (transitional or bool(rolling))
    progress_message = f"Waiting for {', '.join(rolling)}" if progressing and rolling else summary
    progress_reason = "Reconciling" if progressing else ("Stalled" if stalled_message else "Idle")

    short = [g.name for g in groups if g.ready < g.desired] if in_service else []
    degraded_message = f"Groups below their desired size: {', '.join(short)}" if short else ""

    if stalled_message:
        stalled_reason = "InvalidSpec"
    elif state == ClusterState.TERMINATED_WITH_ERRORS:
        stalled_reason = "TerminatedWithErrors"
    elif ended_abnormally:
        stalled_reason = _camel(code.value) if code else "Terminated"  # e.g. MaxLifetime
    else:
        stalled_reason = "AsExpected"
    stalled_detail = stalled_message or (summary if ended_abnormally else "")

    old = previous.conditions
    return [
        condition(old, "Ready", ready, ready_reason, summary, generation, now),
        condition(old, "Progressing", progressing, progress_reason, progress_message, generation, now),
        condition(old, "Reconciling", progressing, progress_reason, progress_message, generation, now),
        condition(
            old,
            "Degraded",
            bool(short),
            "GroupsNotReady" if short else "AsExpected",
            degraded_message,
            generation,
            now,
        ),
        condition(
            old,
            "Stalled",
            bool(stalled_message) or ended_abnormally,
            stalled_reason,
            stalled_detail,
            generation,
            now,
        ),
    ]


def _camel(state: str) -> str:
    return state.title().replace("_", "")


def _transition_events(
    previous: ClusterState | None, state: ClusterState, reason: ClusterStateChangeReason | None
) -> list[Event]:
    if previous == state:
        return []
    kind = "Warning" if state == ClusterState.TERMINATED_WITH_ERRORS else "Normal"
    detail = f" ({reason.code.value}: {reason.message})" if reason and reason.code else ""
    before = previous.value if previous else "none"
    return [Event(kind, _camel(state.value), f"{before} → {state.value}{detail}")]


def _next_deadline(
    spec: EMRClusterSpec, created: datetime, idle_since: datetime | None, now: datetime, state: ClusterState
) -> float | None:
    """Seconds until an idle timeout or maximum lifetime falls due, so the reconcile runs right then."""
    if state in CLUSTER_FINAL_STATES or spec.termination_protected:
        return None
    auto = spec.auto_termination
    deadlines = []
    if auto.max_lifetime_seconds:
        deadlines.append(created + timedelta(seconds=auto.max_lifetime_seconds))
    if auto.idle_timeout_seconds and idle_since:
        deadlines.append(idle_since + timedelta(seconds=auto.idle_timeout_seconds))
    if not deadlines:
        return None
    return max(0.0, _seconds(min(deadlines) - now)) + 0.5
