"""The EMRStep lifecycle and the step queue, decided from observations (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kemr.api import ClusterState, EMRStepSpec, EMRStepStatus, StepState
from kemr.status.step import (
    Action,
    ClusterView,
    DriverView,
    StepDecision,
    cancelled_by,
    classify_refusal,
    decide_step,
    driver_view,
    refused,
    startable,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
READY = ClusterView(exists=True, state=ClusterState.WAITING, log_uri="s3a://logs/etl/")


def spec(**extra: Any) -> EMRStepSpec:
    return EMRStepSpec.model_validate(
        {"clusterRef": {"name": "etl"}, "spark": {"mainApplicationFile": "/a.py"}, **extra}
    )


def run(
    s: EMRStepSpec | None = None,
    previous: EMRStepStatus | None = None,
    *,
    cluster: ClusterView = READY,
    may_start: bool = True,
    pod: DriverView | None = None,
    now: datetime = T0,
    cancelled: str | None = None,
) -> StepDecision:
    return decide_step(
        "load", s or spec(), 1, previous or EMRStepStatus(), T0, cluster, may_start, cancelled, pod, [], now
    )


def test_pending_until_the_cluster_is_ready_and_the_queue_allows() -> None:
    starting = ClusterView(exists=True, state=ClusterState.STARTING)
    assert run(cluster=starting).status.state == StepState.PENDING
    assert run(may_start=False).status.state == StepState.PENDING


def test_an_attempt_is_recorded_and_its_pod_created() -> None:
    d = run()
    assert d.status.state == StepState.RUNNING
    assert d.action == Action.CREATE_POD
    assert [(a.number, a.driver_pod, a.pod_uid) for a in d.status.attempts] == [(1, "load-attempt-1", None)]


def test_recorded_attempt_without_pod_creates_it_again_but_a_lost_pod_interrupts() -> None:
    recorded = run().status
    assert run(previous=recorded).action == Action.CREATE_POD  # crash between the status write and the pod
    seen = run(previous=recorded, pod=DriverView(uid="u1", phase="Running")).status
    assert seen.attempts[0].pod_uid == "u1"
    lost = run(previous=seen, pod=None)
    assert lost.status.state == StepState.INTERRUPTED
    assert lost.status.attempts[0].outcome == "INTERRUPTED"
    retried = run(previous=lost.status, now=T0 + timedelta(seconds=10))
    assert retried.action == Action.CREATE_POD
    assert len(retried.status.attempts) == 2


def test_failure_retries_after_backoff_then_fails_with_details() -> None:
    s = spec(retry={"maxAttempts": 2, "backoffSeconds": 30})
    first = run(s, run(s).status, pod=DriverView(uid="u1", phase="Failed", exit_code=1, message="boom"))
    assert first.status.state == StepState.RUNNING
    assert first.requeue_after == 30
    assert run(s, first.status, now=T0 + timedelta(seconds=10)).action == Action.NONE
    second = run(s, first.status, now=T0 + timedelta(seconds=31))
    assert second.action == Action.CREATE_POD
    assert second.status.attempts[-1].driver_pod == "load-attempt-2"
    failed = run(s, second.status, pod=DriverView(uid="u2", phase="Failed", exit_code=3, message="Traceback"))
    assert failed.status.state == StepState.FAILED
    details = failed.status.failure_details
    assert details
    assert details.message == "Traceback"
    assert details.log_file == "s3a://logs/etl/steps/load/attempt-2/driver.log"


def test_deadline_fails_and_deletes_the_driver() -> None:
    s = spec(activeDeadlineSeconds=60)
    running = run(s, run(s).status, pod=DriverView(uid="u1", phase="Running"))
    assert running.requeue_after == 60.5
    late = run(s, running.status, pod=DriverView(uid="u1", phase="Running"), now=T0 + timedelta(seconds=61))
    assert late.status.state == StepState.FAILED
    assert late.action == Action.DELETE_POD
    assert late.status.state_change_reason
    assert late.status.state_change_reason.code == "DEADLINE_EXCEEDED"


def test_cancel_sends_sigterm_then_cancels() -> None:
    s = spec(cancel=True)
    recorded = run().status
    pending = run(s, recorded, pod=DriverView(uid="u1", phase="Running"))
    assert pending.status.state == StepState.CANCEL_PENDING
    assert pending.action == Action.DELETE_POD
    done = run(s, pending.status, pod=DriverView(uid="u1", phase="Failed", exit_code=143))
    assert done.status.state == StepState.CANCELLED


def test_cluster_gone_or_terminated() -> None:
    assert run(cluster=ClusterView(exists=False)).status.state == StepState.FAILED
    ended = ClusterView(
        exists=True, state=ClusterState.TERMINATED, terminating_since=T0 - timedelta(seconds=5)
    )
    late = run(cluster=ended)
    assert late.status.state == StepState.FAILED
    assert late.status.state_change_reason
    assert late.status.state_change_reason.code == "CLUSTER_TERMINATED"
    caught = ClusterView(
        exists=True, state=ClusterState.TERMINATING, terminating_since=T0 + timedelta(seconds=1)
    )
    assert run(cluster=caught).status.state == StepState.CANCELLED
    terminating = ClusterView(exists=True, state=ClusterState.TERMINATING, terminating_since=T0)
    failed = run(cluster=terminating)
    assert failed.status.state == StepState.FAILED
    assert failed.status.state_change_reason
    assert failed.status.state_change_reason.code == "CLUSTER_TERMINATING"


def test_cancelled_by_a_failed_cancel_and_wait_step() -> None:
    d = run(cancelled="extract")
    assert d.status.state == StepState.CANCELLED
    assert d.action == Action.NONE


def _step(name: str, created: str, state: str | None = None, **spec_: Any) -> dict[str, Any]:
    status = {"state": state, "timeline": {"ended": spec_.pop("ended", None)}} if state else {}
    return {"metadata": {"name": name, "creationTimestamp": created}, "spec": spec_, "status": status}


def test_queue_starts_the_oldest_pending_steps_up_to_the_concurrency() -> None:
    steps = [
        _step("c", "2026-11-22T12:00:03Z"),
        _step("a", "2026-11-22T12:00:01Z", "RUNNING"),
        _step("b", "2026-11-22T12:00:02Z"),
        _step("d", "2026-11-22T12:00:03Z"),
    ]
    assert startable(steps, 1) == set()
    assert startable(steps, 2) == {"b"}
    assert startable(steps, 4) == {"b", "c", "d"}


def test_cancel_and_wait_cancels_only_steps_pending_at_the_failure() -> None:
    failed = _step(
        "x", "2026-11-22T12:00:00Z", "FAILED", actionOnFailure="CANCEL_AND_WAIT", ended="2026-11-22T12:05:00Z"
    )
    assert cancelled_by(_step("early", "2026-11-22T12:01:00Z"), [failed]) == "x"
    assert cancelled_by(_step("later", "2026-11-22T12:06:00Z"), [failed]) is None


def _conditions(status: EMRStepStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status.value, c.reason) for c in status.conditions}


def test_conditions_while_under_way_are_reconciling() -> None:
    """kstatus reads Reconciling (InProgress); Progressing is kept for Argo CD and humans."""
    assert _conditions(run().status) == {
        "Ready": ("False", "Running"),
        "Progressing": ("True", "Running"),
        "Reconciling": ("True", "Running"),
        "Stalled": ("False", "AsExpected"),
    }


def test_a_step_that_ended_as_asked_is_ready() -> None:
    """COMPLETED, or CANCELLED by the user: `kubectl wait --for=condition=Ready` returns, kstatus Current."""
    recorded = run().status
    done = run(previous=recorded, pod=DriverView(uid="u1", phase="Succeeded", exit_code=0)).status
    assert _conditions(done) == {
        "Ready": ("True", "Completed"),
        "Progressing": ("False", "Finished"),
        "Reconciling": ("False", "Finished"),
        "Stalled": ("False", "AsExpected"),
    }
    cancelled = run(spec(cancel=True)).status
    assert cancelled.state == StepState.CANCELLED
    assert _conditions(cancelled)["Ready"] == ("True", "Cancelled")
    assert _conditions(cancelled)["Stalled"] == ("False", "AsExpected")


def test_a_step_that_ended_otherwise_is_stalled_with_its_reason() -> None:
    """FAILED, or CANCELLED by a failed step or the cluster's termination: the work did not happen."""
    by_step = run(cancelled="extract").status
    assert _conditions(by_step)["Ready"] == ("False", "Cancelled")
    assert _conditions(by_step)["Stalled"] == ("True", "CancelledByFailedStep")
    stalled = next(c for c in by_step.conditions if c.type == "Stalled")
    assert "Step extract failed" in stalled.message
    caught = ClusterView(
        exists=True, state=ClusterState.TERMINATING, terminating_since=T0 + timedelta(seconds=1)
    )
    by_cluster = run(cluster=caught).status
    assert by_cluster.state == StepState.CANCELLED
    assert _conditions(by_cluster)["Stalled"] == ("True", "CancelledByClusterTerminating")
    failed = run(cluster=ClusterView(exists=False)).status
    assert _conditions(failed)["Stalled"] == ("True", "Failed")
    assert _conditions(failed)["Ready"] == ("False", "Failed")


# --- a driver that doesn't start, a refused pod, the driver container's own outcome -------------------------


def pending_pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"uid": "u1", "name": "load-attempt-1"},
        "spec": {"containers": [{"name": "driver", "resources": {"limits": {"memory": "1Gi"}}}]},
        "status": {"phase": "Pending", **status},
    }


UNSCHEDULABLE = pending_pod(
    conditions=[
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/13 nodes are available: 13 Insufficient cpu.",
        }
    ]
)


def test_an_unschedulable_driver_says_why_in_the_schedulers_words_and_names_the_field() -> None:
    recorded = run().status
    assert recorded.attempts[0].start_time is None  # recorded, not started
    assert recorded.timeline
    assert recorded.timeline.started is None
    waiting = run(previous=recorded, pod=driver_view(UNSCHEDULABLE), now=T0 + timedelta(seconds=2))
    assert waiting.status.state == StepState.RUNNING
    reason = waiting.status.state_change_reason
    assert reason
    assert reason.message
    assert "0/13 nodes are available: 13 Insufficient cpu." in reason.message
    assert "spec.driver.resources.cpu" in reason.message
    assert [(e.type, e.reason) for e in waiting.events] == [("Warning", "DriverNotStarted")]
    # the same explanation again: no second Event; the start timeout is what it waits for next
    again = run(previous=waiting.status, pod=driver_view(UNSCHEDULABLE), now=T0 + timedelta(seconds=30))
    assert again.events == ()
    assert again.requeue_after == 600 - 30 + 0.5


def test_a_driver_that_never_starts_ends_with_driver_start_failure_and_its_pod_deleted() -> None:
    recorded = run().status
    late = run(previous=recorded, pod=driver_view(UNSCHEDULABLE), now=T0 + timedelta(seconds=601))
    assert late.status.state == StepState.FAILED
    assert late.action == Action.DELETE_POD
    assert late.status.attempts[0].outcome == "START_FAILED"
    details = late.status.failure_details
    assert details
    assert details.reason == "DRIVER_START_FAILURE"
    assert details.message
    assert "not started after 600s" in details.message
    assert "Insufficient cpu" in details.message


def test_a_start_failure_uses_up_an_attempt_and_is_retried_while_attempts_remain() -> None:
    s = spec(retry={"maxAttempts": 2, "backoffSeconds": 5})
    late = run(s, run(s).status, pod=driver_view(UNSCHEDULABLE), now=T0 + timedelta(seconds=601))
    assert late.status.state == StepState.RUNNING
    assert late.status.state_change_reason
    assert late.status.state_change_reason.code == "DRIVER_START_FAILURE"
    assert (late.action, late.requeue_after) == (Action.DELETE_POD, 5.0)


def test_an_image_that_cant_be_pulled_is_explained() -> None:
    pod = pending_pod(
        conditions=[{"type": "PodScheduled", "status": "True"}],
        containerStatuses=[
            {
                "name": "driver",
                "state": {"waiting": {"reason": "ErrImageNeverPull", "message": 'image "x" is not present'}},
            }
        ],
    )
    d = run(previous=run().status, pod=driver_view(pod))
    reason = d.status.state_change_reason
    assert reason
    assert reason.message
    assert "container driver: ErrImageNeverPull" in reason.message
    assert "spec.images" in reason.message


def test_start_time_is_when_the_driver_container_started() -> None:
    started = "2026-11-22T12:00:42Z"
    pod = pending_pod(containerStatuses=[{"name": "driver", "state": {"running": {"startedAt": started}}}])
    pod["status"]["phase"] = "Running"
    d = run(previous=run().status, pod=driver_view(pod), now=T0 + timedelta(seconds=50))
    assert d.status.attempts[0].start_time == T0 + timedelta(seconds=42)
    assert d.status.timeline
    assert d.status.timeline.started == T0 + timedelta(seconds=42)
    assert d.status.attempts[0].requested_time == T0


def test_a_sidecar_does_not_keep_the_step_running() -> None:
    pod = pending_pod(
        containerStatuses=[
            {"name": "driver", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "istio-proxy", "state": {"running": {"startedAt": "2026-11-22T12:00:01Z"}}},
        ]
    )
    pod["status"]["phase"] = "Running"
    d = run(previous=run().status, pod=driver_view(pod))
    assert d.status.state == StepState.COMPLETED
    assert d.action == Action.DELETE_POD  # the sidecar is stopped once the outcome is recorded
    # A pod whose phase lags behind its only container is the step's record: kept.
    alone = pending_pod(containerStatuses=[pod["status"]["containerStatuses"][0]])
    alone["status"]["phase"] = "Running"
    kept = run(previous=run().status, pod=driver_view(alone))
    assert kept.status.state == StepState.COMPLETED
    assert kept.action == Action.NONE


def test_an_oom_killed_driver_is_reported_with_its_limit_and_the_field_to_raise() -> None:
    pod = pending_pod(
        containerStatuses=[
            {"name": "driver", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}
        ]
    )
    pod["status"]["phase"] = "Failed"
    d = run(previous=run().status, pod=driver_view(pod))
    assert d.status.state == StepState.FAILED
    details = d.status.failure_details
    assert details
    assert details.reason == "OUT_OF_MEMORY"
    assert details.message
    assert "1Gi" in details.message
    assert "spec.driver.resources.memory" in details.message


def test_a_refusal_caused_by_the_spec_fails_the_step_naming_the_fix() -> None:
    recorded = run().status
    refusal = classify_refusal(
        403, 'pods "load-attempt-1" is forbidden: no PriorityClass with name gold was found'
    )
    assert not refusal.transient
    d = refused(spec(), recorded, refusal, 1, T0)
    assert d.status.state == StepState.FAILED
    details = d.status.failure_details
    assert details
    assert details.reason == "VALIDATION_ERROR"
    assert details.message
    assert "no PriorityClass with name gold" in details.message
    assert "priorityClassName in spec.podOverrides" in details.message
    assert d.status.attempts[0].outcome == "START_FAILED"


def test_a_full_quota_is_retried_and_the_deadline_still_counts() -> None:
    s = spec(activeDeadlineSeconds=30)
    recorded = run(s).status
    refusal = classify_refusal(403, 'pods "load-attempt-1" is forbidden: exceeded quota: q, requested: cpu=2')
    assert refusal.transient
    d = refused(s, recorded, refusal, 1, T0 + timedelta(seconds=5))
    assert d.status.state == StepState.RUNNING
    assert d.requeue_after == 10
    assert [e.reason for e in d.events] == ["DriverPodRefused"]
    assert d.status.state_change_reason
    assert "exceeded quota" in (d.status.state_change_reason.message or "")
    assert run(s, d.status, pod=None, now=T0 + timedelta(seconds=15)).action == Action.CREATE_POD  # retried
    # the pod never came: the deadline counts from the request, not from a start that never happened
    gone = run(s, d.status, pod=None, now=T0 + timedelta(seconds=31))
    assert gone.status.state == StepState.FAILED
    assert gone.action == Action.NONE
    assert "exceeded quota" in (gone.status.failure_details.message or "")  # type: ignore[union-attr]
    assert gone.status.state_change_reason
    assert gone.status.state_change_reason.code == "DEADLINE_EXCEEDED"


@pytest.mark.parametrize(
    ("status", "transient"),
    [(422, False), (400, False), (403, False), (429, True), (500, True), (503, True), (0, True), (404, True)],
)
def test_refusal_kinds(status: int, transient: bool) -> None:
    assert classify_refusal(status, "x").transient is transient


def test_steps_created_in_the_same_second_run_in_the_order_they_were_stored() -> None:
    """creationTimestamp has one-second precision: z, y and x were sent in that order within one second."""
    second = "2026-11-22T12:00:03Z"
    z = _step("z", second)
    z["status"] = {"state": "PENDING", "creationRevision": "1001"}  # recorded when first seen
    z["metadata"]["resourceVersion"] = "1200"  # its status written since: not what orders it
    y = _step("y", second)
    y["metadata"]["resourceVersion"] = "1002"  # not recorded yet: its current resourceVersion
    x = _step("x", second)
    x["metadata"]["resourceVersion"] = "1003"
    assert startable([x, y, z], 1) == {"z"}
    assert startable([x, y, z], 2) == {"z", "y"}


def test_the_first_revision_seen_is_kept() -> None:
    first = decide_step(
        "load", spec(), 1, EMRStepStatus(), T0, READY, False, None, None, [], T0, revision="1001"
    ).status
    assert first.creation_revision == "1001"
    later = decide_step("load", spec(), 1, first, T0, READY, False, None, None, [], T0, revision="1500")
    assert later.status.creation_revision == "1001"
