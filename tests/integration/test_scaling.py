"""Managed scaling, spot fallback and spot loss (issue 8), on the kwok pools with the operator running.

Steps are simulated drivers that run N seconds (see README, "Simulated pods"); their demand is what their
Spark properties ask for (`spark.cores.max`)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from support.emr import cluster, cluster_manifest, diagnose, step_manifest, wait_for_state, wait_for_step
from support.kube import Kube, wait_until
from support.nodes import cordoned, pool_nodes, recreate_nodes
from support.operator import OperatorProcess

SPARK = {"mainApplicationFile": "s3a://bucket/jobs/job.py"}


def _task_group(**fields: Any) -> dict[str, Any]:
    return {
        "name": "spot",
        "capacityType": "spot",
        "minReplicas": 1,
        "maxReplicas": 4,
        "resources": {"cpu": "1", "memory": "2Gi"},
        **fields,
    }


def _manifest(name: str, task: dict[str, Any], **spec: Any) -> dict[str, Any]:
    # Core: 2 workers of 1 core each. Task workers: 1 core each.
    return cluster_manifest(name, taskGroups=[task], **spec)


def _deployment(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    proc = kube.run("get", "deployment", "-n", namespace, name, "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    obj: dict[str, Any] = json.loads(proc.stdout)
    return obj


def _task_pods(kube: Kube, namespace: str, cluster_name: str, **labels: str) -> list[dict[str, Any]]:
    selector = ",".join(
        [f"kemr.io/cluster={cluster_name}", "kemr.io/role=task", *(f"{k}={v}" for k, v in labels.items())]
    )
    return [
        p
        for p in kube.items("pods", "-n", namespace, "-l", selector)
        if not p["metadata"].get("deletionTimestamp")
    ]


def _group_status(kube: Kube, namespace: str, name: str, group: str) -> dict[str, Any]:
    groups = (cluster(kube, namespace, name).get("status") or {}).get("groups") or []
    return next((g for g in groups if g["name"] == group), {})


def _events(kube: Kube, namespace: str, reason: str) -> list[str]:
    events = kube.items("events", "-n", namespace, "--field-selector", f"reason={reason}")
    return [e.get("message", "") for e in events]


def _wait_for_event(kube: Kube, namespace: str, reason: str, saying: str) -> None:
    """An Event `reason` whose message contains `saying`, within seconds: Events are posted in the
    background (apply/events.py), just after the status that the test saw."""

    def found() -> bool:
        return any(saying in m for m in _events(kube, namespace, reason))

    wait_until(found, 10, f"an Event {reason} {saying!r}")


class ReplicaSampler:
    """Samples a Deployment's spec.replicas in the background: the most it ever asked for."""

    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.seen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            deployment = _deployment(self.kube, self.namespace, self.name)
            if deployment:
                self.seen.append(int(deployment["spec"]["replicas"]))
            time.sleep(0.3)

    def __enter__(self) -> ReplicaSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.timeout(150)
def test_pending_work_grows_the_task_group_and_it_shrinks_back_when_done(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    manifest = _manifest(
        "grow",
        _task_group(),
        stepConcurrency=3,
        managedScaling={"enabled": True, "cooldownSeconds": 0, "scaleDownStabilizationSeconds": 3},
    )
    kube.apply(manifest, namespace=namespace)
    wait_for_state(kube, namespace, "grow", "WAITING")
    deployment = "grow-task-spot"
    wait_until(lambda: len(_task_pods(kube, namespace, "grow")) == 1, 20, "the task group at minReplicas")

    with ReplicaSampler(kube, namespace, deployment) as sampler:
        started = time.monotonic()
        # 3 steps x 4 cores = 12 cores; the core group offers 2: 10 task workers wanted, maxReplicas is 4.
        steps = [
            step_manifest(f"s{i}", "grow", duration="20s", spark={**SPARK, "conf": {"spark.cores.max": "4"}})
            for i in range(3)
        ]
        kube.apply(*steps, namespace=namespace)
        wait_until(
            lambda: len(_task_pods(kube, namespace, "grow")) == 4,
            10 - (time.monotonic() - started),
            "4 task pods within 10 s of the steps being sent",
        )
        grew_in = time.monotonic() - started
        status = _group_status(kube, namespace, "grow", "spot")
        assert status["desired"] == 4
        assert status["reason"] == "ScaleUp"
        assert "→ 4" in status["message"]
        assert "step(s) need" in status["message"]

        for i in range(3):
            wait_for_step(kube, namespace, f"s{i}", "COMPLETED", timeout=60)
        wait_until(
            lambda: (_deployment(kube, namespace, deployment) or {}).get("spec", {}).get("replicas") == 1,
            30,
            "the task group back at minReplicas after stabilization",
        )
    assert max(sampler.seen) == 4, f"never past maxReplicas: {sampler.seen}"
    assert _group_status(kube, namespace, "grow", "spot")["reason"] == "ScaleDown"
    _wait_for_event(kube, namespace, "ScaleUp", "→ 4:")
    _wait_for_event(kube, namespace, "ScaleDown", "4 → 1")
    assert 'kemr_task_group_desired_replicas{cluster="grow",group="spot"' in operator.metrics()
    print(f"task group grew in {grew_in:.1f} s")


@pytest.mark.timeout(150)
def test_a_spot_group_falls_back_to_on_demand_and_returns_to_spot(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    spot_nodes = pool_nodes(kube, "spot")
    manifest = _manifest("fall", _task_group(minReplicas=2, spotFallback={"afterSeconds": 5}))
    fallback = "fall-task-spot-od"
    with cordoned(kube, spot_nodes):
        kube.apply(manifest, namespace=namespace)
        wait_for_state(kube, namespace, "fall", "WAITING")

        def on_demand_ready() -> list[dict[str, Any]] | None:
            pods = _task_pods(kube, namespace, "fall", **{"kemr.io/fallback": "on-demand"})
            running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
            return running if len(running) == 2 else None

        try:
            pods = wait_until(on_demand_ready, 30, "2 task pods running on on-demand")
        except AssertionError as err:
            raise AssertionError(f"{err}\n{diagnose(kube, namespace)}") from None
        assert {p["spec"]["nodeName"] for p in pods} <= set(pool_nodes(kube, "on-demand"))
        status = _group_status(kube, namespace, "fall", "spot")
        assert status["onDemandFallback"] == 2
        assert status["capacityType"] == "on-demand"
        _wait_for_event(kube, namespace, "SpotFallback", "2 pod(s) on on-demand")

    # The pool is back: the spot pods (pending all along) are scheduled and the stand-ins go.
    def back_on_spot() -> bool:
        spot = _task_pods(kube, namespace, "fall", **{"kemr.io/fallback": "on-demand"})
        running = [
            p
            for p in _task_pods(kube, namespace, "fall")
            if (p.get("status") or {}).get("phase") == "Running" and p["spec"].get("nodeName") in spot_nodes
        ]
        return len(running) == 2 and not spot and _deployment(kube, namespace, fallback) is None

    wait_until(back_on_spot, 30, "2 task pods on spot and no on-demand stand-in left")
    status = _group_status(kube, namespace, "fall", "spot")
    assert (status["onDemandFallback"], status["capacityType"]) == (0, "spot")
    _wait_for_event(kube, namespace, "SpotRestored", "")


@pytest.mark.timeout(240)
def test_losing_spot_nodes_mid_step_brings_replacement_workers_and_the_step_completes(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    kube.apply(_manifest("lose", _task_group(minReplicas=2)), namespace=namespace)
    wait_for_state(kube, namespace, "lose", "WAITING")

    def running_task_pods() -> list[dict[str, Any]] | None:
        pods = [p for p in _task_pods(kube, namespace, "lose") if p["status"].get("phase") == "Running"]
        return pods if len(pods) == 2 else None

    before = wait_until(running_task_pods, 20, "2 task pods running on spot")
    kube.apply(step_manifest("long", "lose", duration="100s"), namespace=namespace)
    wait_for_step(kube, namespace, "long", "RUNNING")

    # Two spot nodes go, those of the task pods first (as a spot interruption would take them).
    hosts = sorted({p["spec"]["nodeName"] for p in before})
    victims = (hosts + [n for n in pool_nodes(kube, "spot") if n not in hosts])[:2]
    lost = {p["metadata"]["name"] for p in before}
    try:
        kube.run("delete", "node", *victims, "--wait=false")

        def replaced() -> bool:
            pods = running_task_pods() or []
            names = {p["metadata"]["name"] for p in pods}
            elsewhere = all(p["spec"]["nodeName"] not in victims for p in pods)
            return len(pods) == 2 and not names & lost and elsewhere

        # The pod garbage collector frees pods of a deleted node after 40-60 s (README, "Spot loss").
        wait_until(replaced, 120, "2 replacement task pods running on the remaining spot nodes", interval=2)
        done = wait_for_step(kube, namespace, "long", "COMPLETED", "FAILED", timeout=90)
        assert done["status"]["state"] == "COMPLETED", done["status"]
    finally:
        recreate_nodes(kube, victims)


@pytest.mark.timeout(150)
def test_a_core_group_shrinks_only_after_its_datanodes_are_decommissioned(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    manifest = cluster_manifest("shrink")
    manifest["spec"]["coreGroups"][0]["replicas"] = 3
    kube.apply(manifest, namespace=namespace)
    wait_for_state(kube, namespace, "shrink", "WAITING")
    manifest["spec"]["coreGroups"][0]["replicas"] = 2
    kube.apply(manifest, namespace=namespace)

    # No NameNode runs on kwok: the operator can't confirm the decommission, so it waits, and says so.
    def waiting() -> dict[str, Any] | None:
        status = _group_status(kube, namespace, "shrink", "core")
        return status if status.get("reason") == "DecommissionWaiting" else None

    status = wait_until(waiting, 30, "the core group waiting for its DataNode's decommission")
    assert status["decommissioning"] == ["shrink-core-core-2"]
    assert "kemr.io/datanode-decommissioned=true" in status["message"]
    exclude = kube.get("configmap", "-n", namespace, "shrink-hdfs-exclude")["data"]["dfs.exclude"]
    leaving = kube.get("pod", "-n", namespace, "shrink-core-core-2")
    assert exclude == f"{leaving['status']['podIP']}\n"
    time.sleep(3)  # still held
    assert _statefulset_replicas(kube, namespace, "shrink-core-core") == 3

    # An administrator (here: the test) confirms the DataNode is out: the group shrinks, then its volume goes.
    kube.run("annotate", "pod", "-n", namespace, "shrink-core-core-2", "kemr.io/datanode-decommissioned=true")
    wait_until(
        lambda: _statefulset_replicas(kube, namespace, "shrink-core-core") == 2, 20, "the StatefulSet at 2"
    )

    def volume_gone() -> bool:
        claims = {c["metadata"]["name"] for c in kube.items("pvc", "-n", namespace)}
        return "data-shrink-core-core-2" not in claims and "data-shrink-core-core-1" in claims

    wait_until(volume_gone, 30, "the leaving pod's volume deleted, the others kept")
    wait_until(
        lambda: not _group_status(kube, namespace, "shrink", "core").get("decommissioning"),
        20,
        "the decommission finished in status",
    )
    _wait_for_event(kube, namespace, "DecommissionWaiting", "shrink-core-core-2")


def _statefulset_replicas(kube: Kube, namespace: str, name: str) -> int:
    return int(kube.get("statefulset", "-n", namespace, name)["spec"]["replicas"])


@pytest.mark.timeout(180)
def test_a_removed_core_group_leaves_only_after_its_datanodes_are_decommissioned(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    manifest = cluster_manifest("trim")
    core = manifest["spec"]["coreGroups"][0]
    manifest["spec"]["coreGroups"] = [core, {**core, "name": "old", "replicas": 2}]
    kube.apply(manifest, namespace=namespace)
    wait_for_state(kube, namespace, "trim", "WAITING")
    manifest["spec"]["coreGroups"] = [core]  # as a rename would too: the group is gone from the spec
    kube.apply(manifest, namespace=namespace)

    # Held, with its DataNodes excluded, while the NameNode (none on kwok) can't confirm.
    def waiting() -> dict[str, Any] | None:
        status = _group_status(kube, namespace, "trim", "old")
        return status if status.get("reason") == "DecommissionWaiting" else None

    status = wait_until(waiting, 30, "the removed group waiting for its DataNodes' decommission")
    assert status["decommissioning"] == ["trim-core-old-0", "trim-core-old-1"]
    assert status["message"].startswith("removed from spec.coreGroups: waiting to decommission")
    leaving = [kube.get("pod", "-n", namespace, f"trim-core-old-{i}")["status"]["podIP"] for i in (0, 1)]
    exclude = kube.get("configmap", "-n", namespace, "trim-hdfs-exclude")["data"]["dfs.exclude"]
    assert exclude == "".join(f"{ip}\n" for ip in sorted(leaving))
    time.sleep(3)
    assert _statefulset_replicas(kube, namespace, "trim-core-old") == 2  # still held, volumes kept
    assert {"data-trim-core-old-0", "data-trim-core-old-1"} <= {
        c["metadata"]["name"] for c in kube.items("pvc", "-n", namespace)
    }

    for i in (0, 1):
        kube.run(
            "annotate", "pod", "-n", namespace, f"trim-core-old-{i}", "kemr.io/datanode-decommissioned=true"
        )

    def gone() -> bool:
        names = {o["metadata"]["name"] for o in kube.items("statefulsets,pvc,pods", "-n", namespace)}
        return not any("trim-core-old" in n for n in names)

    wait_until(gone, 60, "the group's pods, volumes and StatefulSet gone")
    wait_until(
        lambda: "old" not in {g["name"] for g in cluster(kube, namespace, "trim")["status"]["groups"]},
        20,
        "the group gone from status",
    )
    assert _statefulset_replicas(kube, namespace, "trim-core-core") == 2  # the other group untouched
    assert "data-trim-core-core-0" in {c["metadata"]["name"] for c in kube.items("pvc", "-n", namespace)}
