"""EMRStep: driver pods, the step queue, failure actions, retries, deadlines, cancel, restarts (issue 4).

Driver outcomes are simulated by kwok from the pod annotations the steps' podOverrides set (see README)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from support.emr import (
    cluster,
    cluster_manifest,
    step,
    step_manifest,
    wait_for_state,
    wait_for_step,
)
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(300)


def _driver_pods(kube: Kube, namespace: str, step_name: str) -> list[dict[str, Any]]:
    return kube.items("pods", "-n", namespace, "-l", f"kemr.io/step={step_name}")


class StateRecorder:
    """Samples the cluster's and steps' states in the background (what a user watching would see)."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self.cluster_states: list[str] = []
        self.max_running = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        steps = self.kube.items("emrsteps", "-n", self.namespace)
        running = sum(1 for s in steps if (s.get("status") or {}).get("state") == "RUNNING")
        self.max_running = max(self.max_running, running)
        state = (cluster(self.kube, self.namespace, "etl").get("status") or {}).get("state")
        if state and (not self.cluster_states or self.cluster_states[-1] != state):
            self.cluster_states.append(state)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.2)

    def __enter__(self) -> StateRecorder:
        self._sample()  # the state before anything happens
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_step_completes_and_cluster_goes_running_then_waiting(
    kube: Kube, namespace: str, ready_cluster: str
) -> None:
    with StateRecorder(kube, namespace) as rec:
        kube.apply(step_manifest("totals", ready_cluster, duration="4s"), namespace=namespace)
        done = wait_for_step(kube, namespace, "totals", "COMPLETED")
        wait_for_state(kube, namespace, ready_cluster, "WAITING")
        time.sleep(0.5)
    assert rec.cluster_states[-3:] == ["WAITING", "RUNNING", "WAITING"]
    attempts = done["status"]["attempts"]
    assert [(a["number"], a["driverPod"], a["outcome"], a["exitCode"]) for a in attempts] == [
        (1, "totals-attempt-1", "COMPLETED", 0)
    ]
    pod = _driver_pods(kube, namespace, "totals")[0]
    labels = pod["metadata"]["labels"]
    assert labels["kemr.io/cluster"] == ready_cluster
    assert labels["kemr.io/role"] == "driver"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "EMRStep"
    assert pod["spec"]["nodeSelector"] == {"karpenter.sh/capacity-type": "on-demand"}
    command = " ".join(pod["spec"]["containers"][0]["command"])
    assert f"--master spark://{ready_cluster}-master.{namespace}.svc:7077 --deploy-mode client" in command
    assert pod["spec"]["containers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert done["status"]["timeline"]["started"]
    assert done["status"]["timeline"]["ended"]


def test_continue_runs_the_next_step_after_a_failure(kube: Kube, namespace: str, ready_cluster: str) -> None:
    kube.apply(step_manifest("a-fails", ready_cluster, exit_code="1"), namespace=namespace)
    kube.apply(step_manifest("b-runs", ready_cluster), namespace=namespace)
    failed = wait_for_step(kube, namespace, "a-fails", "FAILED")
    assert failed["status"]["failureDetails"]["reason"] == "STEP_FAILURE"
    assert failed["status"]["failureDetails"]["message"] == "Traceback: step a-fails exited 1"
    wait_for_step(kube, namespace, "b-runs", "COMPLETED")
    assert cluster(kube, namespace, ready_cluster)["status"]["state"] == "WAITING"


def test_cancel_and_wait_cancels_pending_steps(kube: Kube, namespace: str, ready_cluster: str) -> None:
    kube.apply(
        step_manifest(
            "a-fails", ready_cluster, exit_code="2", duration="3s", actionOnFailure="CANCEL_AND_WAIT"
        ),
        step_manifest("b-pending", ready_cluster),
        step_manifest("c-pending", ready_cluster),
        namespace=namespace,
    )
    wait_for_step(kube, namespace, "a-fails", "FAILED")
    for name in ("b-pending", "c-pending"):
        cancelled = wait_for_step(kube, namespace, name, "CANCELLED")
        assert cancelled["status"]["stateChangeReason"]["code"] == "CANCELLED_BY_FAILED_STEP"
        assert not _driver_pods(kube, namespace, name)
    wait_for_state(kube, namespace, ready_cluster, "WAITING")
    kube.apply(step_manifest("d-later", ready_cluster), namespace=namespace)
    wait_for_step(kube, namespace, "d-later", "COMPLETED")


def test_terminate_cluster_on_failure(kube: Kube, namespace: str, ready_cluster: str) -> None:
    kube.apply(
        step_manifest("fatal", ready_cluster, exit_code="1", actionOnFailure="TERMINATE_CLUSTER"),
        namespace=namespace,
    )
    wait_for_step(kube, namespace, "fatal", "FAILED")
    ended = wait_for_state(kube, namespace, ready_cluster, "TERMINATED_WITH_ERRORS")
    assert ended["status"]["stateChangeReason"]["code"] == "STEP_FAILURE"


def test_retry_after_failure_then_success(kube: Kube, namespace: str, ready_cluster: str) -> None:
    manifest = step_manifest(
        "flaky",
        ready_cluster,
        extra_annotations={"sim.kemr.io/exit-code-attempt-1": "1"},
        retry={"maxAttempts": 2, "backoffSeconds": 1},
    )
    kube.apply(manifest, namespace=namespace)
    done = wait_for_step(kube, namespace, "flaky", "COMPLETED")
    outcomes = [(a["number"], a["outcome"], a["exitCode"]) for a in done["status"]["attempts"]]
    assert outcomes == [(1, "FAILED", 1), (2, "COMPLETED", 0)]
    assert done["status"]["attemptCount"] == 2
    assert len(_driver_pods(kube, namespace, "flaky")) == 2


def test_deadline_exceeded_fails_the_step(kube: Kube, namespace: str, ready_cluster: str) -> None:
    kube.apply(
        step_manifest("slow", ready_cluster, duration="10m", activeDeadlineSeconds=3), namespace=namespace
    )
    failed = wait_for_step(kube, namespace, "slow", "FAILED", timeout=30)
    assert failed["status"]["stateChangeReason"]["code"] == "DEADLINE_EXCEEDED"
    assert failed["status"]["attempts"][0]["outcome"] == "DEADLINE_EXCEEDED"
    wait_until(lambda: not _driver_pods(kube, namespace, "slow"), 30, "the driver pod deleted")


def test_graceful_cancel(kube: Kube, namespace: str, ready_cluster: str) -> None:
    kube.apply(step_manifest("long", ready_cluster, duration="10m"), namespace=namespace)
    wait_for_step(kube, namespace, "long", "RUNNING")
    wait_until(lambda: _driver_pods(kube, namespace, "long"), 30, "driver pod")
    kube.apply(step_manifest("long", ready_cluster, duration="10m", cancel=True), namespace=namespace)
    cancelled = wait_for_step(kube, namespace, "long", "CANCELLED")
    assert cancelled["status"]["stateChangeReason"]["code"] == "USER_REQUEST"
    wait_until(lambda: not _driver_pods(kube, namespace, "long"), 30, "driver pod gone")


def test_concurrency_two_runs_six_steps_in_order(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    kube.apply(cluster_manifest("etl", stepConcurrency=2), namespace=namespace)
    wait_for_state(kube, namespace, "etl", "WAITING")
    names = [f"s{i}" for i in range(1, 7)]
    with StateRecorder(kube, namespace) as rec:
        kube.apply(*(step_manifest(n, "etl", duration="3s") for n in names), namespace=namespace)
        done = [wait_for_step(kube, namespace, n, "COMPLETED", timeout=90) for n in names]
    assert rec.max_running == 2
    # Started in creation order: their drivers were requested in that order (startTime is when each driver's
    # container was seen running, which a simulated pod that finishes at once may only show afterwards).
    requested = [d["status"]["attempts"][0]["requestedTime"] for d in done]
    assert requested == sorted(requested), "steps must start in creation order"


def test_inline_steps_of_a_transient_cluster(operator: OperatorProcess, kube: Kube, namespace: str) -> None:
    sim = {"metadata": {"annotations": {"sim.kemr.io/exit-code": "0", "sim.kemr.io/duration": "2s"}}}
    inline = [
        {"name": "extract", "spark": {"mainApplicationFile": "s3a://b/extract.py"}, "podOverrides": sim},
        {"name": "load", "command": {"args": ["bash", "-c", "echo load"]}, "podOverrides": sim},
    ]
    kube.apply(
        cluster_manifest("once", steps=inline, autoTermination={"keepAliveWhenNoSteps": False}),
        namespace=namespace,
    )
    ended = wait_for_state(kube, namespace, "once", "TERMINATED", timeout=90)
    assert ended["status"]["stateChangeReason"]["code"] == "ALL_STEPS_COMPLETED"
    for name in ("once-extract", "once-load"):
        assert step(kube, namespace, name)["status"]["state"] == "COMPLETED"
    first, second = (step(kube, namespace, n)["status"]["attempts"][0] for n in ("once-extract", "once-load"))
    assert first["endTime"] <= second["startTime"]
    wait_until(
        lambda: (
            not kube.items("pods,pvc", "-n", namespace, "-l", "kemr.io/cluster=once,kemr.io/role!=driver")
        ),
        60,
        "cluster pods and volumes freed",
    )


def test_bad_inputs_get_their_message(kube: Kube, namespace: str, ready_cluster: str) -> None:
    kube.apply(step_manifest("orphan", "nowhere"), namespace=namespace)
    orphan = wait_for_step(kube, namespace, "orphan", "FAILED")
    assert orphan["status"]["stateChangeReason"]["code"] == "CLUSTER_NOT_FOUND"
    assert "nowhere" in orphan["status"]["stateChangeReason"]["message"]

    owned = step_manifest("owned", ready_cluster)
    owned["spec"]["spark"]["conf"] = {"spark.master": "local[*]"}
    refused = kube.apply(owned, namespace=namespace, check=False)  # by the operator's webhook
    assert refused.returncode != 0
    assert 'denied the request: EMRStep owned is invalid: spec.spark.conf["spark.master"]' in refused.stderr

    unknown = step_manifest("pig", ready_cluster)
    del unknown["spec"]["spark"]
    unknown["spec"]["pig"] = {"query": "A = LOAD 'x';"}
    rejected = kube.apply(unknown, namespace=namespace, check=False)
    assert rejected.returncode != 0
    assert "pig" in rejected.stderr

    hive = step_manifest("hive", ready_cluster)  # a cluster without Hive: the step can't run there
    del hive["spec"]["spark"]
    hive["spec"]["hive"] = {"query": "SELECT 1"}
    kube.apply(hive, namespace=namespace)
    failed = wait_for_step(kube, namespace, "hive", "FAILED")
    assert failed["status"]["stateChangeReason"]["code"] == "VALIDATION_ERROR"
    message = failed["status"]["stateChangeReason"]["message"]
    assert "spec.hive: a hive step needs Hive on its cluster" in message

    kube.apply(cluster_manifest("etl", terminate=True), namespace=namespace)
    wait_for_state(kube, namespace, ready_cluster, "TERMINATED")
    kube.apply(step_manifest("late", ready_cluster), namespace=namespace)
    late = wait_for_step(kube, namespace, "late", "FAILED")
    assert late["status"]["stateChangeReason"]["code"] == "CLUSTER_TERMINATED"


def test_concurrent_cluster_refuses_blocking_failure_actions(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    kube.apply(cluster_manifest("etl", stepConcurrency=3), namespace=namespace)
    kube.apply(step_manifest("strict", "etl", actionOnFailure="CANCEL_AND_WAIT"), namespace=namespace)
    failed = wait_for_step(kube, namespace, "strict", "FAILED")
    assert "spec.actionOnFailure" in failed["status"]["stateChangeReason"]["message"]


@pytest.mark.parametrize("point", ["step-attempt-recorded", "step-before-result-recorded"])
def test_operator_killed_at_a_crash_point_runs_each_attempt_once(
    spawn_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str, point: str
) -> None:
    healthy = spawn_operator("healthy")
    healthy.start()
    kube.apply(cluster_manifest("etl"), namespace=namespace)
    wait_for_state(kube, namespace, "etl", "WAITING")
    healthy.stop()

    crashing = spawn_operator("crashing", env={"KEMR_CRASH_AT": point})
    crashing.start()
    kube.apply(step_manifest("once", "etl", duration="1s"), namespace=namespace)
    wait_until(
        lambda: crashing.proc is not None and crashing.proc.poll() is not None, 60, f"crash at {point}"
    )
    recorded = step(kube, namespace, "once")["status"]
    assert recorded["attempts"][0]["driverPod"] == "once-attempt-1"
    if point == "step-attempt-recorded":
        assert not _driver_pods(kube, namespace, "once"), "killed before the pod was created"

    healthy.start()  # takes the Lease over once the killed operator's expires (15 s)
    done = wait_for_step(kube, namespace, "once", "COMPLETED")
    assert [a["number"] for a in done["status"]["attempts"]] == [1]
    assert [p["metadata"]["name"] for p in _driver_pods(kube, namespace, "once")] == ["once-attempt-1"]


def test_steps_sent_within_one_second_run_in_the_order_sent(
    kube: Kube, namespace: str, ready_cluster: str
) -> None:
    """creationTimestamp has one-second precision; names in reverse alphabetical order make a name tie-break
    visibly wrong. One `kubectl apply` creates them in document order within the same second."""
    names = ["s-d", "s-c", "s-b", "s-a"]
    kube.apply(*(step_manifest(n, ready_cluster, duration="1s") for n in names), namespace=namespace)
    done = [wait_for_step(kube, namespace, n, "COMPLETED", timeout=120) for n in names]
    created = {d["metadata"]["creationTimestamp"] for d in done}
    requested = [d["status"]["attempts"][0]["requestedTime"] for d in done]
    assert requested == sorted(requested), "steps must start in the order they were sent"
    ended = [d["status"]["timeline"]["ended"] for d in done]
    assert ended == sorted(ended)
    if len(created) == 1:
        print("all four were created within the same second")
