"""A driver that never starts, a driver pod the apiserver refuses, an earlier step's pod (issue 13: 1 and 4).

Against the local cluster's real scheduler and apiserver (kwok nodes: 32 CPUs each). Each fault must explain
itself in the step's stateChangeReason and a Warning Event within a minute, in the scheduler's or apiserver's
own words, and end within a bound."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.emr import step, step_manifest, wait_for_state, wait_for_step
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(300)


def huge_driver(cluster_name: str) -> dict[str, Any]:
    """A step whose driver asks for 40 CPUs: no node (32 each) can take it."""
    manifest = step_manifest("huge", cluster_name)
    manifest["spec"]["spark"]["driver"] = {"resources": {"cpu": "40", "memory": "4Gi"}}
    return manifest


def _reason(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    reason: dict[str, Any] = step(kube, namespace, name).get("status", {}).get("stateChangeReason") or {}
    return reason


def _explained(kube: Kube, namespace: str, name: str, words: str, timeout: float = 60) -> tuple[str, float]:
    """Waits until the step's stateChangeReason.message contains `words`; returns it and the seconds taken."""
    start = time.monotonic()
    message = wait_until(
        lambda: (m := _reason(kube, namespace, name).get("message") or "") and words in m and m,
        timeout,
        f"EMRStep {name}'s stateChangeReason to say {words!r}",
    )
    return message, time.monotonic() - start


def _warnings(kube: Kube, namespace: str, name: str, reason: str) -> list[dict[str, Any]]:
    return kube.items(
        "events",
        "-n",
        namespace,
        "--field-selector",
        f"involvedObject.name={name},type=Warning,reason={reason}",
    )


def test_an_unschedulable_driver_says_why_within_a_minute(
    kube: Kube, namespace: str, ready_cluster: str
) -> None:
    kube.apply(
        huge_driver(ready_cluster),
        namespace=namespace,
    )
    message, took = _explained(kube, namespace, "huge", "Insufficient cpu")
    print(f"unschedulable driver explained {took:.1f} s after the apply")
    assert "spec.driver.resources.cpu" in message
    assert took < 60
    running = step(kube, namespace, "huge")["status"]
    assert running["state"] == "RUNNING"
    assert "startTime" not in running["attempts"][0]  # recorded and requested, never started
    assert running["attempts"][0]["requestedTime"]
    assert "started" not in running["timeline"]
    wait_until(lambda: _warnings(kube, namespace, "huge", "DriverNotStarted"), 30, "a DriverNotStarted Event")


def test_a_driver_that_never_starts_ends_after_the_start_timeout(
    kube: Kube,
    namespace: str,
    ready_cluster: str,
    spawn_operator: Callable[..., OperatorProcess],
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    # 60 s: a scheduler busy with other tests' pods may take tens of seconds to say "Insufficient cpu".
    config.write_text(yaml.safe_dump({"driverStartTimeoutSeconds": 60}))
    spawn_operator("short-start", env={"KEMR_CONFIG": str(config)}).start()
    kube.apply(
        huge_driver(ready_cluster),
        namespace=namespace,
    )
    failed = wait_for_step(kube, namespace, "huge", "FAILED", timeout=120)["status"]
    assert failed["stateChangeReason"]["code"] == "DRIVER_START_FAILURE"
    assert failed["failureDetails"]["reason"] == "DRIVER_START_FAILURE"
    assert "not started after 60s" in failed["failureDetails"]["message"]
    assert "Insufficient cpu" in failed["failureDetails"]["message"]
    assert failed["attempts"][0]["outcome"] == "START_FAILED"
    wait_until(
        lambda: not kube.items("pods", "-n", namespace, "-l", "kemr.io/step=huge"),
        30,
        "the pending pod deleted",
    )
    wait_for_state(kube, namespace, ready_cluster, "WAITING")  # the cluster is free again


def test_a_pod_the_spec_makes_invalid_fails_the_step_with_the_apiservers_words(
    kube: Kube, namespace: str, ready_cluster: str
) -> None:
    manifest = step_manifest("gold", ready_cluster)
    manifest["spec"]["podOverrides"]["spec"] = {"priorityClassName": "no-such-class"}
    kube.apply(manifest, namespace=namespace)
    failed = wait_for_step(kube, namespace, "gold", "FAILED")["status"]
    assert failed["stateChangeReason"]["code"] == "VALIDATION_ERROR"
    details = failed["failureDetails"]["message"]
    assert "no PriorityClass with name no-such-class was found" in details
    assert "priorityClassName in spec.podOverrides" in details
    assert not kube.items("pods", "-n", namespace, "-l", "kemr.io/step=gold")


def test_a_full_quota_is_explained_and_retried_until_it_has_room(
    kube: Kube, namespace: str, ready_cluster: str
) -> None:
    pods = len(kube.items("pods", "-n", namespace))
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "full"},
        "spec": {"hard": {"pods": str(pods)}},
    }
    kube.apply(quota, namespace=namespace)
    wait_until(
        lambda: kube.get("resourcequota", "full", "-n", namespace).get("status", {}).get("used"),
        30,
        "the quota's usage computed",
    )
    kube.apply(step_manifest("squeezed", ready_cluster), namespace=namespace)
    message, took = _explained(kube, namespace, "squeezed", "exceeded quota")
    print(f"quota refusal explained {took:.1f} s after the apply")
    assert "the apiserver refused the driver pod, retrying" in message
    assert took < 60
    assert step(kube, namespace, "squeezed")["status"]["state"] == "RUNNING"
    wait_until(
        lambda: _warnings(kube, namespace, "squeezed", "DriverPodRefused"), 30, "a DriverPodRefused Event"
    )
    kube.run("delete", "resourcequota", "full", "-n", namespace)
    done = wait_for_step(kube, namespace, "squeezed", "COMPLETED", timeout=60)["status"]
    assert [a["outcome"] for a in done["attempts"]] == ["COMPLETED"]


def test_a_step_recreated_under_the_same_name_never_adopts_the_old_driver(
    kube: Kube, namespace: str, ready_cluster: str
) -> None:
    kube.apply(step_manifest("dup", ready_cluster, exit_code="0"), namespace=namespace)
    wait_for_step(kube, namespace, "dup", "COMPLETED")
    # The old step goes, its finished driver pod stays (orphaned): the new one must not take its result.
    kube.run("delete", "emrstep", "dup", "-n", namespace, "--cascade=orphan")
    wait_until(
        lambda: kube.run("get", "emrstep", "dup", "-n", namespace, check=False).returncode != 0, 30, "gone"
    )
    kube.apply(step_manifest("dup", ready_cluster, exit_code="3"), namespace=namespace)
    message, _ = _explained(kube, namespace, "dup", "earlier EMRStep of the same name")
    assert "kubectl delete pod dup-attempt-1" in message
    assert step(kube, namespace, "dup")["status"]["state"] == "RUNNING"
    kube.run("delete", "pod", "dup-attempt-1", "-n", namespace, "--wait=true")
    failed = wait_for_step(kube, namespace, "dup", "FAILED", timeout=60)["status"]
    assert failed["attempts"][0]["exitCode"] == 3  # its own driver's result, not the old one's 0


def _pod(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    proc = kube.run("get", "pod", name, "-n", namespace, "-o", "json", check=False)
    return yaml.safe_load(proc.stdout) if proc.returncode == 0 else None


def test_a_driver_that_finished_and_was_deleted_while_the_operator_was_down_keeps_its_result(
    operator: OperatorProcess, kube: Kube, namespace: str, ready_cluster: str
) -> None:
    kube.apply(step_manifest("quiet", ready_cluster, duration="4s"), namespace=namespace)
    wait_until(lambda: _pod(kube, namespace, "quiet-attempt-1"), 30, "the driver pod")
    operator.stop()
    try:
        wait_until(
            lambda: (
                (p := _pod(kube, namespace, "quiet-attempt-1")) and p["status"].get("phase") == "Succeeded"
            ),
            30,
            "the driver to succeed",
        )
        kube.run("delete", "pod", "quiet-attempt-1", "-n", namespace, "--wait=false")
        time.sleep(2)
        held = _pod(kube, namespace, "quiet-attempt-1")
        assert held, "the finalizer keeps the pod until its outcome is recorded"
        assert "kemr.io/driver-outcome" in held["metadata"]["finalizers"]
    finally:
        operator.start()
    done = wait_for_step(kube, namespace, "quiet", "COMPLETED")["status"]
    assert [(a["outcome"], a["exitCode"]) for a in done["attempts"]] == [("COMPLETED", 0)]
    wait_until(lambda: not _pod(kube, namespace, "quiet-attempt-1"), 30, "the pod gone once recorded")


def test_a_running_driver_deleted_by_hand_fails_the_step_and_never_runs_twice(
    kube: Kube, namespace: str, ready_cluster: str
) -> None:
    kube.apply(step_manifest("once", ready_cluster, duration="10m"), namespace=namespace)
    wait_until(
        lambda: (p := _pod(kube, namespace, "once-attempt-1")) and p["status"].get("phase") == "Running",
        30,
        "the driver running",
    )
    kube.run("delete", "pod", "once-attempt-1", "-n", namespace, "--wait=false")
    failed = wait_for_step(kube, namespace, "once", "FAILED")["status"]
    assert [a["outcome"] for a in failed["attempts"]] == ["FAILED"]  # one attempt: maxAttempts 1
    assert failed["attempts"][0]["exitCode"] == 143
    wait_until(lambda: not _pod(kube, namespace, "once-attempt-1"), 30, "the pod gone once recorded")
