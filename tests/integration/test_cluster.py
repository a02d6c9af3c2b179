"""EMRCluster reconciliation against the local cluster, with the operator running as a process (issue 3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.emr import children, cluster, cluster_manifest, condition, wait_for_state
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

CHILD_KINDS = (
    "statefulsets,deployments,services,configmaps,serviceaccounts,poddisruptionbudgets,networkpolicies"
)
pytestmark = pytest.mark.timeout(300)


def _by_key(objs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def _content(obj: dict[str, Any]) -> Any:
    """What the operator sets: spec (or data), labels and annotations; not status or bookkeeping."""
    meta = obj["metadata"]
    return (obj.get("spec"), obj.get("data"), meta.get("labels"), meta.get("annotations"))


def _apply_cluster(kube: Kube, namespace: str, name: str, **spec: Any) -> None:
    kube.apply(cluster_manifest(name, **spec), namespace=namespace)


def test_example_cluster_reaches_waiting_with_every_child(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    _apply_cluster(kube, namespace, "sales")
    obj = wait_for_state(kube, namespace, "sales", "WAITING")
    status = obj["status"]
    generation = obj["metadata"]["generation"]
    ready = condition(obj, "Ready")
    assert ready
    assert ready["status"] == "True"
    assert ready["observedGeneration"] == generation
    assert status["observedGeneration"] == generation
    assert status["endpoints"]["master"] == f"spark://sales-master.{namespace}.svc:7077"
    assert status["endpoints"]["hdfs"] == f"hdfs://sales-master.{namespace}.svc:8020"
    groups = {g["name"]: g for g in status["groups"]}
    assert groups["master"]["ready"] == groups["master"]["desired"] == 1
    assert groups["core"]["ready"] == groups["core"]["desired"] == 2
    assert groups["spot"]["capacityType"] == "spot"

    kids = children(kube, namespace, "sales", CHILD_KINDS)
    kinds = {o["kind"] for o in kids}
    assert {
        "StatefulSet",
        "Deployment",
        "Service",
        "ConfigMap",
        "ServiceAccount",
        "PodDisruptionBudget",
        "NetworkPolicy",
    } <= kinds
    for child in kids:
        refs = child["metadata"].get("ownerReferences") or []
        assert [(r["kind"], r["name"], r.get("controller")) for r in refs] == [("EMRCluster", "sales", True)]
        labels = child["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "kemr"
    pods = kube.items("pods", "-n", namespace, "-l", "kemr.io/cluster=sales")
    roles = sorted(p["metadata"]["labels"]["kemr.io/role"] for p in pods)
    assert roles[:3] == ["core", "core", "master"]
    claims = kube.items("pvc", "-n", namespace, "-l", "kemr.io/cluster=sales")
    assert len(claims) == 3
    assert all(c["status"]["phase"] == "Bound" for c in claims)


def test_scaling_applies_in_place_and_touches_nothing_else(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    _apply_cluster(kube, namespace, "scale")
    wait_for_state(kube, namespace, "scale", "WAITING")
    before = _by_key(children(kube, namespace, "scale", CHILD_KINDS))

    spec = cluster_manifest("scale")["spec"]
    spec["coreGroups"][0]["replicas"] = 3
    spec["taskGroups"][0]["minReplicas"], spec["taskGroups"][0]["maxReplicas"] = 1, 6
    kube.apply({**cluster_manifest("scale"), "spec": spec}, namespace=namespace)

    def scaled() -> dict[str, Any] | None:
        obj = cluster(kube, namespace, "scale")
        groups = {g["name"]: g for g in obj["status"].get("groups", [])}
        done = (
            obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
            and groups["core"]["ready"] == 3
        )
        return obj if done else None

    wait_until(scaled, 60, "core group scaled to 3 ready")
    after = _by_key(children(kube, namespace, "scale", CHILD_KINDS))
    changed = {key for key in before if _content(before[key]) != _content(after[key])}
    # Only the resized workloads change: never a Service, the master or a daemon's configuration.
    # (The drivers' client configuration follows the core count: replication defaults to min(3, core nodes).)
    assert changed == {
        ("StatefulSet", "scale-core-core"),
        ("Deployment", "scale-task-spot"),
        ("ConfigMap", "scale-client-config"),
    }, changed
    core = after[("StatefulSet", "scale-core-core")]
    assert core["spec"]["replicas"] == 3
    core_before = before[("StatefulSet", "scale-core-core")]
    assert core["spec"]["template"] == core_before["spec"]["template"], "a resize must not roll the pods"


def test_configuration_change_rolls_the_affected_pods(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    _apply_cluster(kube, namespace, "conf")
    wait_for_state(kube, namespace, "conf", "WAITING")
    before = _by_key(children(kube, namespace, "conf", "statefulsets,deployments"))
    configurations = [
        {"classification": "spark-defaults", "properties": {"spark.sql.shuffle.partitions": "64"}}
    ]
    kube.apply(
        {
            **cluster_manifest("conf"),
            "spec": {**cluster_manifest("conf")["spec"], "configurations": configurations},
        },
        namespace=namespace,
    )

    def rolled() -> dict[tuple[str, str], dict[str, Any]] | None:
        after = _by_key(children(kube, namespace, "conf", "statefulsets,deployments"))
        templates_changed = all(
            after[k]["spec"]["template"]["metadata"].get("annotations")
            != before[k]["spec"]["template"]["metadata"].get("annotations")
            for k in before
        )
        return after if templates_changed else None

    wait_until(rolled, 60, "every workload's pod template to carry the new configuration hash")
    maps = kube.items("configmaps", "-n", namespace, "-l", "kemr.io/cluster=conf")
    assert any(
        "spark.sql.shuffle.partitions" in v and "64" in v
        for m in maps
        for v in (m.get("data") or {}).values()
    )


def test_operator_detected_error_stalls_only_that_cluster(
    spawn_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str
) -> None:
    # Without its webhook (stored while no operator answered it): the reconciler's own check.
    spawn_operator("no-webhook", args=("--webhook-port=0",)).start()
    bad = [{"classification": "spark-defaults", "properties": {"spark.master": "local[*]"}}]
    _apply_cluster(kube, namespace, "bad", configurations=bad)
    _apply_cluster(kube, namespace, "good")

    def stalled() -> dict[str, Any] | None:
        c = condition(cluster(kube, namespace, "bad"), "Stalled")
        return c if c and c["status"] == "True" else None

    cond = wait_until(stalled, 60, "cluster 'bad' Stalled")
    assert cond["reason"] == "InvalidSpec"
    assert "spark.master" in cond["message"]
    wait_for_state(kube, namespace, "good", "WAITING")
    assert not children(kube, namespace, "bad", "statefulsets,deployments"), "an invalid spec builds nothing"
    wait_until(  # Events are posted in the background (apply/events.py): seconds after the status
        lambda: any(
            e["reason"] == "InvalidSpec" and e["type"] == "Warning"
            for e in kube.items("events", "-n", namespace, "--field-selector", "involvedObject.name=bad")
        ),
        10,
        "a Warning Event InvalidSpec",
    )


def test_delete_removes_every_child(operator: OperatorProcess, kube: Kube, namespace: str) -> None:
    _apply_cluster(kube, namespace, "gone")
    wait_for_state(kube, namespace, "gone", "WAITING")
    kube.run("delete", "emrcluster", "-n", namespace, "gone", "--timeout=30s")
    wait_until(lambda: not children(kube, namespace, "gone", CHILD_KINDS + ",pods"), 60, "children removed")


def test_protected_cluster_refuses_delete_and_terminate(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    _apply_cluster(kube, namespace, "vault", terminationProtected=True)
    wait_for_state(kube, namespace, "vault", "WAITING")
    refused = kube.run("delete", "emrcluster", "-n", namespace, "vault", "--timeout=20s", check=False)
    assert refused.returncode != 0
    assert "termination-protected" in refused.stderr
    terminate = kube.apply(
        cluster_manifest("vault", terminationProtected=True, terminate=True), namespace=namespace, check=False
    )
    assert terminate.returncode != 0
    assert "terminationProtected" in terminate.stderr
    assert cluster(kube, namespace, "vault")["status"]["state"] == "WAITING"
    kube.apply(cluster_manifest("vault", terminationProtected=False), namespace=namespace)
    kube.run("delete", "emrcluster", "-n", namespace, "vault", "--timeout=30s")


@pytest.mark.timeout(240)
def test_idle_cluster_terminates_itself_and_frees_pods_and_volumes(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    _apply_cluster(
        kube, namespace, "idle", autoTermination={"keepAliveWhenNoSteps": True, "idleTimeoutSeconds": 60}
    )
    wait_for_state(kube, namespace, "idle", "WAITING")
    obj = wait_for_state(kube, namespace, "idle", "TERMINATED", timeout=150)
    assert obj["status"]["stateChangeReason"]["code"] == "IDLE_TIMEOUT"
    assert obj["status"]["timeline"]["ended"]
    wait_until(
        lambda: not children(kube, namespace, "idle", CHILD_KINDS + ",pods,pvc"), 60, "pods and PVCs freed"
    )
    assert cluster(kube, namespace, "idle")["status"]["state"] == "TERMINATED", "the CR stays as the record"


def test_user_terminate_keeps_the_record(operator: OperatorProcess, kube: Kube, namespace: str) -> None:
    _apply_cluster(kube, namespace, "done")
    wait_for_state(kube, namespace, "done", "WAITING")
    kube.apply(cluster_manifest("done", terminate=True), namespace=namespace)
    obj = wait_for_state(kube, namespace, "done", "TERMINATED")
    assert obj["status"]["stateChangeReason"]["code"] == "USER_REQUEST"
    # Terminated as asked: Ready (kubectl wait / Flux return), not Stalled, nothing left in progress.
    ready, stalled, reconciling = (condition(obj, t) or {} for t in ("Ready", "Stalled", "Reconciling"))
    assert (ready.get("status"), ready.get("reason")) == ("True", "Terminated")
    assert stalled.get("status") == "False"
    assert reconciling.get("status") == "False"
    wait_until(lambda: not children(kube, namespace, "done", CHILD_KINDS + ",pods,pvc"), 60, "children freed")


def test_operator_killed_mid_creation_converges_without_duplicates(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    names = [f"crash-{i}" for i in range(4)]
    for name in names:
        _apply_cluster(kube, namespace, name)
    # Kill as soon as the first children appear: some clusters are half-built.
    wait_until(lambda: children(kube, namespace, names[0], "configmaps"), 30, "first children")
    operator.kill()
    operator.start()
    for name in names:
        wait_for_state(kube, namespace, name, "WAITING")
    for name in names:
        kids = children(kube, namespace, name, CHILD_KINDS)
        keys = [(o["kind"], o["metadata"]["name"]) for o in kids]
        assert len(keys) == len(set(keys))
        assert sum(1 for k in keys if k[0] == "StatefulSet") == 2  # master + one core group
        assert sum(1 for k in keys if k[0] == "Deployment") == 1
        pods = kube.items(
            "pods", "-n", namespace, "-l", f"kemr.io/cluster={name},kemr.io/role in (master,core)"
        )
        assert len(pods) == 3
