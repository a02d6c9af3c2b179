"""The EMRCluster lifecycle decided from spec, previous status and observations (pure)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from kemr.api import (
    ClusterState,
    ClusterStateChangeReasonCode,
    EMRClusterSpec,
    EMRClusterStatus,
    Endpoints,
    GroupRole,
    StepState,
)
from kemr.observe import ObservedCluster, ObservedGroup, ObservedSteps, catalog_problem
from kemr.status.cluster import ChildrenMode, decide, idle_timeout_due
from kemr.validate import ValidationIssue

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SPEC = EMRClusterSpec.model_validate(
    {
        "coreGroups": [{"name": "core", "replicas": 2, "storage": {"size": "1Gi"}}],
        "taskGroups": [{"name": "spot", "maxReplicas": 4}],
    }
)


def observed(
    master: int = 1, core: int = 2, steps: ObservedSteps | None = None, remaining: int = 5
) -> ObservedCluster:
    return ObservedCluster(
        groups=(
            ObservedGroup("master", GroupRole.MASTER, 1, master, True),
            ObservedGroup("core", GroupRole.CORE, 2, core, True),
            ObservedGroup("spot", GroupRole.TASK, 0, 0, True),
        ),
        initializing_pods=0,
        remaining=remaining,
        steps=steps or ObservedSteps(),
    )


def run(spec: EMRClusterSpec = SPEC, previous: EMRClusterStatus | None = None, now: datetime = T0, **kw):  # type: ignore[no-untyped-def]
    return decide(
        spec,
        1,
        previous or EMRClusterStatus(),
        kw.pop("obs", observed()),
        kw.pop("issues", []),
        Endpoints(master="spark://m:7077"),
        T0,
        now,
    )


def conditions(status: EMRClusterStatus) -> dict[str, str]:
    return {c.type: c.status.value for c in status.conditions}


def test_starting_until_master_and_core_are_ready() -> None:
    d = run(obs=observed(core=1))
    assert d.status.state == ClusterState.STARTING
    assert d.mode == ChildrenMode.BUILD
    assert conditions(d.status) == {
        "Ready": "False",
        "Progressing": "True",
        "Reconciling": "True",
        "Degraded": "False",
        "Stalled": "False",
    }


def test_waiting_once_ready_with_timeline_and_event() -> None:
    d = run(previous=run(obs=observed(core=1)).status)
    assert d.status.state == ClusterState.WAITING
    assert d.status.timeline
    assert d.status.timeline.ready == T0
    assert conditions(d.status)["Ready"] == "True"
    assert [e.reason for e in d.events] == ["Waiting"]


def test_running_while_a_step_runs_and_waiting_after() -> None:
    ready = run().status
    busy = run(previous=ready, obs=observed(steps=ObservedSteps(by_state={StepState.RUNNING: 1})))
    assert busy.status.state == ClusterState.RUNNING
    assert busy.status.idle_since is None
    idle = run(previous=busy.status, now=T0 + timedelta(minutes=5))
    assert idle.status.state == ClusterState.WAITING


def test_lost_core_pod_degrades_but_keeps_the_state() -> None:
    d = run(previous=run().status, obs=observed(core=1))
    assert d.status.state == ClusterState.WAITING
    assert conditions(d.status)["Degraded"] == "True"


def test_invalid_spec_holds_children_and_stalls() -> None:
    d = run(issues=[ValidationIssue("spec.configurations[spark-defaults]", "spark.master is owned")])
    assert d.mode == ChildrenMode.HOLD
    stalled = next(c for c in d.status.conditions if c.type == "Stalled")
    assert stalled.status.value == "True"
    assert "spark.master" in stalled.message
    # Not Reconciling: kstatus reads Reconciling first and would say InProgress instead of Failed.
    assert conditions(d.status)["Reconciling"] == conditions(d.status)["Progressing"] == "False"
    assert any(e.reason == "InvalidSpec" and e.type == "Warning" for e in d.events)


def test_idle_timeout_terminates_then_terminated_when_children_are_gone() -> None:
    spec = SPEC.model_copy(
        update={"auto_termination": SPEC.auto_termination.model_copy(update={"idle_timeout_seconds": 60})}
    )
    ready = run(spec).status
    assert run(spec, ready, T0 + timedelta(seconds=30)).requeue_after == 30.5
    ending = run(spec, ready, T0 + timedelta(seconds=61))
    assert ending.status.state == ClusterState.TERMINATING
    assert ending.mode == ChildrenMode.TEARDOWN
    assert ending.status.state_change_reason
    assert ending.status.state_change_reason.code == "IDLE_TIMEOUT"
    done = run(spec, ending.status, T0 + timedelta(seconds=70), obs=observed(remaining=0))
    assert done.status.state == ClusterState.TERMINATED
    assert done.status.timeline
    assert done.status.timeline.ended == T0 + timedelta(seconds=70)
    # When termination began stays put (steps sent meanwhile are judged by it); Ready turned True at the end.
    assert ending.status.timeline
    assert ending.status.timeline.terminating == T0 + timedelta(seconds=61)
    assert done.status.timeline.terminating == T0 + timedelta(seconds=61)
    assert run(spec, done.status, T0 + timedelta(seconds=99)).status.state == ClusterState.TERMINATED


def test_an_attached_notebooks_busy_kernel_keeps_an_idle_cluster_up_and_restarts_its_idle_time() -> None:
    spec = SPEC.model_copy(
        update={"auto_termination": SPEC.auto_termination.model_copy(update={"idle_timeout_seconds": 60})}
    )
    ready = run(spec).status
    busy = dataclasses.replace(
        observed(), notebook_busy=True, notebook_last_activity=T0 + timedelta(seconds=5)
    )
    kept = run(spec, ready, T0 + timedelta(seconds=120), obs=busy)
    assert kept.status.state == ClusterState.WAITING
    assert kept.status.idle_since is None
    # the cell ended at +100 s: idle time counts from there, not from readiness
    done = dataclasses.replace(observed(), notebook_last_activity=T0 + timedelta(seconds=100))
    assert run(spec, kept.status, T0 + timedelta(seconds=150), obs=done).status.state == ClusterState.WAITING
    ending = run(spec, kept.status, T0 + timedelta(seconds=161), obs=done)
    assert ending.status.state == ClusterState.TERMINATING
    assert ending.status.state_change_reason
    assert ending.status.state_change_reason.code == "IDLE_TIMEOUT"


def test_the_round_that_would_end_an_idle_cluster_is_known_before_it_decides() -> None:
    """So the cluster's reconcile reads its notebooks' kernels afresh first (kemr.controllers.kernels)."""
    spec = SPEC.model_copy(
        update={"auto_termination": SPEC.auto_termination.model_copy(update={"idle_timeout_seconds": 60})}
    )
    ready = run(spec).status
    assert not idle_timeout_due(spec, ready, observed(), T0, T0 + timedelta(seconds=30))
    assert idle_timeout_due(spec, ready, observed(), T0, T0 + timedelta(seconds=61))
    recent = dataclasses.replace(observed(), notebook_last_activity=T0 + timedelta(seconds=30))
    assert not idle_timeout_due(spec, ready, recent, T0, T0 + timedelta(seconds=61))
    ending = run(spec, ready, T0 + timedelta(seconds=61)).status
    assert not idle_timeout_due(spec, ending, observed(), T0, T0 + timedelta(seconds=70))  # already decided


def test_protected_cluster_never_terminates_automatically() -> None:
    spec = SPEC.model_copy(
        update={
            "termination_protected": True,
            "auto_termination": SPEC.auto_termination.model_copy(update={"idle_timeout_seconds": 60}),
        }
    )
    later = run(spec, run(spec).status, T0 + timedelta(hours=2))
    assert later.status.state == ClusterState.WAITING
    assert later.requeue_after is None


def test_transient_cluster_terminates_after_its_steps() -> None:
    spec = SPEC.model_copy(
        update={
            "auto_termination": SPEC.auto_termination.model_copy(update={"keep_alive_when_no_steps": False})
        }
    )
    busy = run(
        spec,
        run(spec, obs=observed(steps=ObservedSteps(by_state={StepState.RUNNING: 1}))).status,
        obs=observed(steps=ObservedSteps(by_state={StepState.RUNNING: 1})),
    )
    assert busy.status.state == ClusterState.RUNNING
    done = run(spec, busy.status, obs=observed(steps=ObservedSteps(by_state={StepState.COMPLETED: 1})))
    assert done.status.state == ClusterState.TERMINATING
    assert done.status.state_change_reason
    assert done.status.state_change_reason.code == "ALL_STEPS_COMPLETED"


def test_failed_terminate_cluster_step_ends_with_errors() -> None:
    steps = ObservedSteps(by_state={StepState.FAILED: 1}, terminate_cluster_failure="etl")
    ending = run(previous=run().status, obs=observed(steps=steps))
    assert ending.status.state_change_reason
    assert ending.status.state_change_reason.code == "STEP_FAILURE"
    done = run(previous=ending.status, obs=observed(steps=steps, remaining=0))
    assert done.status.state == ClusterState.TERMINATED_WITH_ERRORS
    assert conditions(done.status)["Stalled"] == "True"


def test_a_step_waiting_for_its_retry_keeps_a_transient_cluster_alive() -> None:
    spec = SPEC.model_copy(
        update={
            "auto_termination": SPEC.auto_termination.model_copy(update={"keep_alive_when_no_steps": False})
        }
    )
    ready = run(spec, obs=observed(steps=ObservedSteps(by_state={StepState.RUNNING: 1}))).status
    retrying = run(spec, ready, obs=observed(steps=ObservedSteps(by_state={StepState.INTERRUPTED: 1})))
    assert retrying.status.state == ClusterState.WAITING
    assert retrying.mode == ChildrenMode.BUILD


def condition_of(status: EMRClusterStatus, type_: str) -> tuple[str, str, str]:
    c = next(c for c in status.conditions if c.type == type_)
    return c.status.value, c.reason, c.message


def _terminated(spec: EMRClusterSpec, previous: EMRClusterStatus, now: datetime) -> EMRClusterStatus:
    """The status once the termination decided from `previous` at `now` has removed every child."""
    ending = run(spec, previous, now)
    assert ending.status.state == ClusterState.TERMINATING
    assert conditions(ending.status)["Ready"] == "False"  # out of service while tearing down
    done: EMRClusterStatus = run(spec, ending.status, now, obs=observed(remaining=0)).status
    return done


def test_reconciling_mirrors_progressing_for_kstatus() -> None:
    """kstatus reads Reconciling, not Progressing: a rolling configuration change must show in both."""
    ready = run().status
    rolling = ObservedCluster(
        groups=(
            ObservedGroup("master", GroupRole.MASTER, 1, 1, True),
            ObservedGroup("core", GroupRole.CORE, 2, 2, False),
            ObservedGroup("spot", GroupRole.TASK, 0, 0, True),
        ),
        initializing_pods=0,
        remaining=5,
        steps=ObservedSteps(),
    )
    d = run(previous=ready, obs=rolling)
    assert conditions(d.status)["Ready"] == "True"
    assert condition_of(d.status, "Reconciling") == condition_of(d.status, "Progressing")
    assert condition_of(d.status, "Reconciling") == ("True", "Reconciling", "Waiting for core")
    assert conditions(run(previous=d.status).status)["Reconciling"] == "False"


def test_a_normal_termination_is_ready_so_waiters_return() -> None:
    """USER_REQUEST, IDLE_TIMEOUT, ALL_STEPS_COMPLETED: the cluster did as asked (kstatus Current)."""
    ready = run().status
    spec = SPEC.model_copy(update={"terminate": True})
    done = _terminated(spec, ready, T0 + timedelta(seconds=5))
    assert done.state == ClusterState.TERMINATED
    assert condition_of(done, "Ready") == ("True", "Terminated", "TERMINATED: Terminated at user request")
    assert conditions(done) | {"Ready": "-"} == {
        "Ready": "-",
        "Progressing": "False",
        "Reconciling": "False",
        "Degraded": "False",
        "Stalled": "False",
    }
    idle = SPEC.model_copy(
        update={"auto_termination": SPEC.auto_termination.model_copy(update={"idle_timeout_seconds": 60})}
    )
    assert conditions(_terminated(idle, run(idle).status, T0 + timedelta(seconds=61)))["Ready"] == "True"


def test_max_lifetime_is_stalled_so_it_needs_a_human() -> None:
    spec = SPEC.model_copy(
        update={"auto_termination": SPEC.auto_termination.model_copy(update={"max_lifetime_seconds": 3600})}
    )
    done = _terminated(spec, run(spec).status, T0 + timedelta(hours=1))
    assert done.state == ClusterState.TERMINATED
    assert conditions(done)["Ready"] == "False"
    status, reason, message = condition_of(done, "Stalled")
    assert (status, reason) == ("True", "MaxLifetime")
    assert "maximum lifetime of 3600s" in message


def test_terminated_with_errors_is_stalled_with_the_reason() -> None:
    steps = ObservedSteps(by_state={StepState.FAILED: 1}, terminate_cluster_failure="etl")
    ending = run(previous=run().status, obs=observed(steps=steps))
    done = run(previous=ending.status, obs=observed(steps=steps, remaining=0)).status
    assert conditions(done)["Ready"] == "False"
    status, reason, message = condition_of(done, "Stalled")
    assert (status, reason) == ("True", "TerminatedWithErrors")
    assert "Step etl failed" in message


# --- a cluster that cannot start ends, saying why (issue 13, kind 2) ----------------------------------------


def starting(problems: tuple[str, ...] = (), bootstrap: tuple[str, ...] = ()) -> ObservedCluster:
    return dataclasses.replace(observed(core=0), daemon_problems=problems, bootstrap_failures=bootstrap)


def test_a_starting_cluster_says_what_is_in_the_way() -> None:
    problem = "pod etl-core-core-0: not scheduled: 0/13 nodes are available: 13 Insufficient memory."
    d = run(obs=starting((problem,)), now=T0 + timedelta(seconds=20))
    assert d.status.state == ClusterState.STARTING
    assert d.status.state_change_reason
    assert d.status.state_change_reason.message == f"Provisioning master and core nodes: {problem}"
    assert d.requeue_after == 900 - 20 + 0.5  # the provisioning timeout is what it waits for


def test_a_cluster_not_ready_within_the_provisioning_timeout_ends_with_instance_failure() -> None:
    problem = "pod etl-master-0: container spark-master: CrashLoopBackOff (last exit code 1, Error)"
    first = run(obs=starting((problem,)))
    late = run(previous=first.status, obs=starting((problem,)), now=T0 + timedelta(seconds=900))
    assert late.status.state == ClusterState.TERMINATING
    reason = late.status.state_change_reason
    assert reason
    assert reason.code == ClusterStateChangeReasonCode.INSTANCE_FAILURE
    assert "not ready within 900s" in (reason.message or "")
    assert problem in (reason.message or "")
    assert late.mode == ChildrenMode.TEARDOWN
    gone = dataclasses.replace(starting((problem,)), remaining=0)
    ended = run(previous=late.status, obs=gone, now=T0 + timedelta(seconds=910))
    assert ended.status.state == ClusterState.TERMINATED_WITH_ERRORS


def test_a_failed_bootstrap_action_ends_the_cluster_at_once() -> None:
    failure = "bootstrap action install-deps exited with code 2 in pod etl-master-0: pip: not found"
    d = run(obs=starting(bootstrap=(failure,)))
    reason = d.status.state_change_reason
    assert reason
    assert reason.code == ClusterStateChangeReasonCode.BOOTSTRAP_FAILURE
    assert failure in (reason.message or "")
    assert "spec.bootstrapActions" in (reason.message or "")


def test_a_new_cluster_whose_spec_cant_be_built_never_shows_starting() -> None:
    issue = ValidationIssue("spec.coreGroups[core].resources.memory", "the Spark worker would offer 0Mi")
    d = run(obs=dataclasses.replace(starting(), remaining=0), issues=[issue])
    assert d.status.state == ClusterState.TERMINATED_WITH_ERRORS
    assert d.status.state_change_reason
    assert d.status.state_change_reason.code == ClusterStateChangeReasonCode.VALIDATION_ERROR
    assert "spec.coreGroups[core].resources.memory" in (d.status.state_change_reason.message or "")


def test_a_cluster_that_was_ready_holds_its_children_on_a_bad_spec_change() -> None:
    ready = run().status
    issue = ValidationIssue("spec.configurations[spark-defaults]", "spark.master is owned")
    d = run(previous=ready, obs=observed(core=1), issues=[issue])
    assert d.mode == ChildrenMode.HOLD
    assert d.status.state == ClusterState.WAITING


# --- a cluster waits for its DataCatalog (issue 15) ---------------------------------------------------


def test_ready_daemons_wait_for_the_catalog_and_say_so_naming_spec_catalog() -> None:
    problem = catalog_problem("lake", "etl", None)
    assert problem == (
        "spec.catalog: DataCatalog lake does not exist in namespace etl: create it (docs/hive.md)"
        " or fix the name"
    )
    waiting = run(obs=dataclasses.replace(observed(), dependency_problems=(problem,)))
    assert waiting.status.state == ClusterState.STARTING
    assert ("Warning", "DependencyNotReady", problem) in [
        (e.type, e.reason, e.message) for e in waiting.events
    ]
    assert waiting.status.state_change_reason
    assert problem in (waiting.status.state_change_reason.message or "")
    late = run(
        previous=waiting.status,
        obs=dataclasses.replace(observed(), dependency_problems=(problem,)),
        now=T0 + timedelta(seconds=900),
    )
    assert late.status.state_change_reason
    assert late.status.state_change_reason.code == ClusterStateChangeReasonCode.INSTANCE_FAILURE
    assert "spec.catalog: DataCatalog lake does not exist" in (late.status.state_change_reason.message or "")
    assert run(obs=observed()).status.state == ClusterState.WAITING


def test_a_catalog_not_ready_is_described_in_its_own_words() -> None:
    creating = {
        "metadata": {"name": "lake"},
        "status": {
            "state": "CREATING",
            "conditions": [{"type": "Ready", "status": "False", "message": "waiting for the database"}],
        },
    }
    assert catalog_problem("lake", "etl", creating) == (
        "spec.catalog: DataCatalog lake is not ready (CREATING): waiting for the database"
    )
    assert (
        catalog_problem("lake", "etl", {"metadata": {"name": "lake"}, "status": {"state": "ACTIVE"}}) is None
    )
