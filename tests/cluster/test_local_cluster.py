"""The local cluster behaves like the cloud clusters kemr targets (issue 2's "done when").

These tests exercise the cluster itself — apiserver, controllers, scheduler, kwok pools, volume provisioning —
so that later failures of operator tests can be trusted to be the operator's.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from support.kube import Kube, wait_until

KUBE_VERSION = "v1.33.13"
SPOT_TOLERATION = {"key": "karpenter.sh/capacity-type", "value": "spot", "effect": "NoSchedule"}


def _pods(kube: Kube, namespace: str, selector: str) -> list[dict[str, Any]]:
    return kube.items("pods", "-n", namespace, "-l", selector)


def _running(pods: list[dict[str, Any]], count: int) -> list[dict[str, Any]] | None:
    live = [
        p
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]
    return live if len(live) == count else None


def _deployment(name: str, replicas: int, pod_spec: dict[str, Any]) -> dict[str, Any]:
    pod_spec = {"containers": [{"name": "main", "image": "busybox"}], **pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    }


def test_server_reports_its_real_version(kube: Kube) -> None:
    version = json.loads(kube.run("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == KUBE_VERSION
    assert version["clientVersion"]["gitVersion"] == KUBE_VERSION


def test_both_node_pools_are_ready_with_cloud_labels_and_spot_taint(kube: Kube) -> None:
    nodes = kube.items("nodes", "-l", "type=kwok")
    pools: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        pools.setdefault(node["metadata"]["labels"]["karpenter.sh/capacity-type"], []).append(node)
    assert set(pools) == {"on-demand", "spot"}
    for pool, members in pools.items():
        for node in members:
            ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
            assert ready == "True", node["metadata"]["name"]
            taints = node["spec"].get("taints", [])
            assert (SPOT_TOLERATION in taints) == (pool == "spot"), node["metadata"]["name"]
            assert int(node["status"]["allocatable"]["cpu"]) >= 16


def test_crd_cel_rule_rejects_bad_object_with_its_message(kube: Kube, namespace: str) -> None:
    group = f"{namespace}.example.com"
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
                                    "x-kubernetes-validations": [
                                        {
                                            "rule": "self.min <= self.max",
                                            "message": "spec.min must not exceed spec.max",
                                        },
                                    ],
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    kube.apply(crd)
    try:
        wait_until(
            lambda: (
                kube.run(
                    "get",
                    "crd",
                    crd["metadata"]["name"],
                    "-o",
                    "jsonpath={.status.conditions[?(@.type=='Established')].status}",
                ).stdout
                == "True"
            ),
            30,
            "CRD established",
        )
        widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}}
        good = kube.apply({**widget, "spec": {"min": 1, "max": 2}}, namespace=namespace, check=False)
        assert good.returncode == 0, good.stderr
        bad = kube.apply({**widget, "spec": {"min": 3, "max": 2}}, namespace=namespace, check=False)
        assert bad.returncode != 0
        assert "spec.min must not exceed spec.max" in bad.stderr
    finally:
        kube.run("delete", "crd", crd["metadata"]["name"], "--wait=false")


def test_statefulset_volume_claims_bind_and_pods_run(kube: Kube, namespace: str) -> None:
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "data"},
        "spec": {
            "replicas": 2,
            "serviceName": "data",
            "selector": {"matchLabels": {"app": "data"}},
            "template": {
                "metadata": {"labels": {"app": "data"}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "busybox",
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }
    kube.apply(sts, namespace=namespace)
    wait_until(lambda: _running(_pods(kube, namespace, "app=data"), 2), 60, "2 StatefulSet pods Running")
    claims = kube.items("pvc", "-n", namespace)
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-data-0", "data-data-1"]
    assert all(c["status"]["phase"] == "Bound" for c in claims)
    assert all(c["spec"]["storageClassName"] == "standard" for c in claims)


def test_spot_deployment_lands_only_on_spot_nodes(kube: Kube, namespace: str) -> None:
    spot = _deployment(
        "spot-workers",
        6,
        {
            "nodeSelector": {"karpenter.sh/capacity-type": "spot"},
            "tolerations": [SPOT_TOLERATION],
        },
    )
    plain = _deployment("plain-workers", 6, {})
    kube.apply(spot, plain, namespace=namespace)
    spot_pods = wait_until(lambda: _running(_pods(kube, namespace, "app=spot-workers"), 6), 60, "spot pods")
    plain_pods = wait_until(
        lambda: _running(_pods(kube, namespace, "app=plain-workers"), 6), 60, "plain pods"
    )
    capacity = {
        n["metadata"]["name"]: n["metadata"]["labels"]["karpenter.sh/capacity-type"]
        for n in kube.items("nodes", "-l", "type=kwok")
    }
    assert {capacity[p["spec"]["nodeName"]] for p in spot_pods} == {"spot"}
    # Without the toleration nothing may land on the tainted spot pool.
    assert {capacity[p["spec"]["nodeName"]] for p in plain_pods} == {"on-demand"}


def _bare_pod(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "driver", "image": "spark"}]},
    }


def _terminated(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    pod: dict[str, Any] = kube.get("pod", "-n", namespace, name)
    return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None


def test_annotated_bare_pods_finish_as_told_and_others_keep_running(kube: Kube, namespace: str) -> None:
    kube.apply(
        _bare_pod("fails", {"sim.kemr.io/exit-code": "3", "sim.kemr.io/message": "boom: no such table"}),
        _bare_pod("succeeds", {"sim.kemr.io/exit-code": "0", "sim.kemr.io/duration": "4s"}),
        _bare_pod("runs", {}),
        namespace=namespace,
    )
    failed = wait_until(lambda: _terminated(kube, namespace, "fails"), 30, "pod 'fails' to finish")
    assert failed["status"]["phase"] == "Failed"
    state = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 3
    assert state["message"] == "boom: no such table"

    succeeded = wait_until(lambda: _terminated(kube, namespace, "succeeds"), 30, "pod 'succeeds' to finish")
    assert succeeded["status"]["phase"] == "Succeeded"
    assert succeeded["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    started = kube.get("pod", "-n", namespace, "succeeds")["status"]["startTime"]
    finished = succeeded["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
    assert _seconds(finished) - _seconds(started) >= 3, "sim.kemr.io/duration was not honoured"

    assert kube.get("pod", "-n", namespace, "runs")["status"]["phase"] == "Running"


def test_attempt_labelled_pod_takes_its_attempt_exit_code(kube: Kube, namespace: str) -> None:
    annotations = {"sim.kemr.io/exit-code": "0", "sim.kemr.io/exit-code-attempt-1": "7"}
    first, second = _bare_pod("attempt-1", annotations), _bare_pod("attempt-2", annotations)
    first["metadata"]["labels"] = {"kemr.io/attempt": "1"}
    second["metadata"]["labels"] = {"kemr.io/attempt": "2"}
    kube.apply(first, second, namespace=namespace)
    failed = wait_until(lambda: _terminated(kube, namespace, "attempt-1"), 30, "attempt 1 to finish")
    assert failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 7
    succeeded = wait_until(lambda: _terminated(kube, namespace, "attempt-2"), 30, "attempt 2 to finish")
    assert succeeded["status"]["phase"] == "Succeeded"


def _seconds(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


@pytest.mark.timeout(240)
def test_pods_of_a_deleted_spot_node_run_again_elsewhere(kube: Kube, namespace: str) -> None:
    kube.apply(
        _deployment(
            "workers",
            8,
            {
                "nodeSelector": {"karpenter.sh/capacity-type": "spot"},
                "tolerations": [SPOT_TOLERATION],
            },
        ),
        namespace=namespace,
    )
    pods = wait_until(lambda: _running(_pods(kube, namespace, "app=workers"), 8), 60, "8 spot pods")
    victim = pods[0]["spec"]["nodeName"]
    lost = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == victim}
    node = kube.get("node", victim)
    kube.run("delete", "node", victim)
    deleted_at = time.monotonic()
    try:
        # The controller-manager's pod GC removes pods bound to a missing node after a 40 s quarantine.
        def replaced() -> list[dict[str, Any]] | None:
            live = _running(_pods(kube, namespace, "app=workers"), 8)
            if live and not lost & {p["metadata"]["name"] for p in live}:
                assert victim not in {p["spec"]["nodeName"] for p in live}
                return live
            return None

        wait_until(replaced, 180, f"pods of deleted node {victim} replaced elsewhere")
        print(f"pods of deleted node {victim} replaced after {time.monotonic() - deleted_at:.0f} s")
    finally:
        # Put the spot node back for the tests that follow (kwok initialises it again).
        meta = {k: node["metadata"][k] for k in ("name", "labels", "annotations")}
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": meta,
                "spec": node["spec"],
                "status": {k: node["status"][k] for k in ("allocatable", "capacity")},
            }
        )


def test_deleting_an_owner_garbage_collects_its_children(kube: Kube, namespace: str) -> None:
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}, namespace=namespace)
    owner = kube.get("configmap", "-n", namespace, "owner")
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    children = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"child-{i}", "ownerReferences": [ref]},
        }
        for i in range(3)
    ]
    kube.apply(
        *children,
        _deployment("owned", 2, {}) | {"metadata": {"name": "owned", "ownerReferences": [ref]}},
        namespace=namespace,
    )
    wait_until(lambda: _running(_pods(kube, namespace, "app=owned"), 2), 60, "owned Deployment's pods")
    kube.run("delete", "configmap", "-n", namespace, "owner")

    def collected() -> bool:
        left = kube.run(
            "get", "configmaps,deployments,replicasets,pods", "-n", namespace, "-o", "name"
        ).stdout
        return not [n for n in left.split() if n != "configmap/kube-root-ca.crt"]

    wait_until(collected, 60, "children, ReplicaSet and pods garbage-collected")
