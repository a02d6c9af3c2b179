"""The apiserver enforces the CRDs' rules and the termination-protection policy, with the messages users see.

Runs against the local cluster (Kubernetes 1.33): what the unit tests can't show is that the rules compile
within the CEL cost budget and that the apiserver evaluates them as intended.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.kube import Kube, wait_until

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"
EXAMPLES = REPO / "manifests" / "examples"


@pytest.fixture(scope="module")
def api(kube: Kube) -> Kube:
    """The cluster with kemr's CRDs and policy installed (as `kubectl apply --server-side -f crds/`)."""
    kube.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    kube.run("wait", "--for=condition=Established", "crd/emrclusters.kemr.io", "crd/emrsteps.kemr.io")
    return kube


@pytest.fixture
def ns(api: Kube) -> Iterator[str]:
    name = f"api-check-{secrets.token_hex(4)}"
    api.run("create", "namespace", name)
    yield name
    api.run("delete", "namespace", name, "--wait=false", check=False)


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return loaded


def _cluster(**spec: Any) -> dict[str, Any]:
    obj = _example("emrcluster-basic.yaml")
    obj["spec"].update(spec)
    return obj


def _step(**spec: Any) -> dict[str, Any]:
    obj = _example("emrstep-sparkpi.yaml")
    obj["spec"].update(spec)
    return obj


def _apply(api: Kube, ns: str, *objects: dict[str, Any], check: bool = True) -> tuple[int, str]:
    proc = api.run(
        "apply", "--server-side", "--field-manager=kemr-api-tests", "-n", ns, "-f", "-",
        stdin=yaml.safe_dump_all(objects), check=check,
    )  # fmt: skip
    return proc.returncode, proc.stderr


def _rejected(api: Kube, ns: str, obj: dict[str, Any]) -> str:
    code, stderr = _apply(api, ns, obj, check=False)
    assert code != 0, f"accepted: {yaml.safe_dump(obj)}"
    return stderr


def test_examples_are_accepted_and_defaulted(api: Kube, ns: str) -> None:
    _apply(api, ns, _example("emrcluster-basic.yaml"), _example("emrstep-sparkpi.yaml"))
    spec = api.get("emrcluster", "basic", "-n", ns)["spec"]
    assert spec["terminate"] is False
    assert spec["networkPolicy"] == {"enabled": True}
    assert spec["taskGroups"][0]["spotFallback"] == {"afterSeconds": 300}
    step = api.get("emrstep", "sparkpi", "-n", ns)["spec"]
    assert step["cancel"] is False


INVALID_CLUSTERS = {
    "task-group-bounds": (
        {"taskGroups": [{"name": "spot", "minReplicas": 5, "maxReplicas": 2}]},
        "spec.taskGroups[0].minReplicas: Invalid value",
        "minReplicas must be less than or equal to maxReplicas",
    ),
    "concurrency-blocking-step": (
        {
            "stepConcurrency": 2,
            "steps": [{"name": "s", "actionOnFailure": "TERMINATE_CLUSTER", "command": {"args": ["true"]}}],
        },
        "spec.steps",
        "with stepConcurrency > 1 every step's actionOnFailure must be CONTINUE",
    ),
    "two-step-kinds": (
        {"steps": [{"name": "s", "command": {"args": ["true"]}, "sparkSql": {"query": "SELECT 1"}}]},
        "spec.steps[0]",
        "exactly one of spark, sparkSql, command, hive or trino must be set",
    ),
    "terminate-protected": (
        {"terminationProtected": True, "terminate": True},
        "spec.terminate",
        "set spec.terminationProtected to false first",
    ),
    "duplicate-group-name": (
        {"taskGroups": [{"name": "core", "maxReplicas": 2}]},
        "spec.taskGroups",
        "group names must be unique across coreGroups and taskGroups",
    ),
    "hdfs-without-core": (
        {"coreGroups": []},
        "spec.coreGroups",
        "HDFS needs at least one core group",
    ),
    "spark-missing": (
        {"applications": ["HDFS"]},
        "spec.applications",
        "applications must include Spark",
    ),
    "zero-memory": (
        {"master": {"resources": {"memory": "0"}}},
        "spec.master.resources.memory",
        "should match",
    ),
    "zero-cpu": (
        {"master": {"resources": {"cpu": 0}}},
        "spec.master.resources.cpu",
        "should be greater than or equal to 1",
    ),
    "two-credential-sources": (
        {"s3": {"credentials": {"secretRef": {"name": "s"}, "serviceAccountName": "sa"}}},
        "spec.s3.credentials",
        "set exactly one of s3.credentials.secretRef or s3.credentials.serviceAccountName",
    ),
    "fallback-on-demand": (
        {"taskGroups": [{"name": "od", "capacityType": "on-demand", "maxReplicas": 2, "spotFallback": {}}]},
        "spec.taskGroups[0].spotFallback",
        "spotFallback only applies to capacityType spot",
    ),
    "unknown-classification": (
        {"configurations": [{"classification": "pig-properties", "properties": {}}]},
        "spec.configurations[0].classification",
        "Unsupported value",
    ),
}


@pytest.mark.parametrize(("spec", "field", "message"), INVALID_CLUSTERS.values(), ids=INVALID_CLUSTERS.keys())
def test_invalid_clusters_are_rejected_naming_the_field(
    api: Kube, ns: str, spec: dict[str, Any], field: str, message: str
) -> None:
    stderr = _rejected(api, ns, _cluster(**spec))
    assert field in stderr
    assert message in stderr


def test_cluster_name_must_fit_child_names(api: Kube, ns: str) -> None:
    obj = _cluster()
    obj["metadata"]["name"] = "c" * 31
    assert "must be at most 30 characters" in _rejected(api, ns, obj)


INVALID_STEPS = {
    "no-kind": ({"spark": None}, "exactly one of spark, sparkSql, command, hive or trino must be set"),
    "query-and-file": (
        {"spark": None, "sparkSql": {"query": "SELECT 1", "file": "s3a://b/q.sql"}},
        "exactly one of query or file must be set",
    ),
    "main-class-for-python": (
        {"spark": {"mainApplicationFile": "s3a://b/app.py", "mainClass": "x.Main"}},
        "mainClass is for JAR applications",
    ),
    "empty-command": ({"spark": None, "command": {"args": []}}, "spec.command.args"),
}


@pytest.mark.parametrize(("spec", "message"), INVALID_STEPS.values(), ids=INVALID_STEPS.keys())
def test_invalid_steps_are_rejected(api: Kube, ns: str, spec: dict[str, Any], message: str) -> None:
    obj = _step(**spec)
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    assert message in _rejected(api, ns, obj)


def _update(api: Kube, ns: str, obj: dict[str, Any], change: dict[str, Any]) -> tuple[int, str]:
    # kubectl replace sends the whole object: a transition rule sees exactly the change. An operator running
    # at the same time may write the status in between (409 Conflict): read again and retry, as clients do.
    for _ in range(5):
        current = api.get(obj["kind"].lower(), obj["metadata"]["name"], "-n", ns)
        current["spec"] = _deep_merge(current["spec"], change)
        proc = api.run("replace", "-n", ns, "-f", "-", stdin=yaml.safe_dump(current), check=False)
        if "the object has been modified" not in proc.stderr:
            break
    return proc.returncode, proc.stderr


def _deep_merge(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        merged = copy.deepcopy(base)
        for key, value in change.items():
            merged[key] = _deep_merge(base.get(key), value)
        return merged
    return copy.deepcopy(change)


IMMUTABLE_CLUSTER_CHANGES = {
    "release": ({"release": "kemr-1.1"}, "spec.release is immutable"),
    "applications": ({"applications": ["Spark"]}, "spec.applications is immutable"),
    "master-storage": ({"master": {"storage": {"size": "5Gi"}}}, "spec.master.storage is immutable"),
    "core-storage": (
        {"coreGroups": [{"name": "core", "replicas": 2, "storage": {"size": "9Gi"}}]},
        "spec.coreGroups[].storage is immutable",
    ),
}


@pytest.mark.parametrize(
    ("change", "message"), IMMUTABLE_CLUSTER_CHANGES.values(), ids=IMMUTABLE_CLUSTER_CHANGES.keys()
)
def test_immutable_cluster_fields(api: Kube, ns: str, change: dict[str, Any], message: str) -> None:
    cluster = _cluster()
    _apply(api, ns, cluster)
    code, stderr = _update(api, ns, cluster, change)
    assert code != 0
    assert message in stderr


def test_mutable_cluster_fields_change(api: Kube, ns: str) -> None:
    cluster = _cluster(steps=[{"name": "one", "command": {"args": ["true"]}}])
    _apply(api, ns, cluster)
    change = {
        "coreGroups": [{"name": "core", "replicas": 3, "storage": {"size": "2Gi"}}],
        "taskGroups": [{"name": "spot", "minReplicas": 1, "maxReplicas": 8}],
        "configurations": [
            {"classification": "spark-defaults", "properties": {"spark.sql.shuffle.partitions": "8"}}
        ],
        "steps": [
            {"name": "one", "command": {"args": ["true"]}},
            {"name": "two", "command": {"args": ["false"]}},
        ],
        "terminationProtected": True,
    }
    code, stderr = _update(api, ns, cluster, change)
    assert code == 0, stderr


def test_inline_steps_are_immutable(api: Kube, ns: str) -> None:
    cluster = _cluster(steps=[{"name": "one", "command": {"args": ["true"]}}])
    _apply(api, ns, cluster)
    code, stderr = _update(api, ns, cluster, {"steps": [{"name": "one", "command": {"args": ["false"]}}]})
    assert code != 0
    assert "an inline step is immutable once submitted" in stderr


def test_terminate_is_final(api: Kube, ns: str) -> None:
    cluster = _cluster(terminate=True)
    _apply(api, ns, cluster)
    code, stderr = _update(api, ns, cluster, {"terminate": False})
    assert code != 0
    assert "spec.terminate cannot be set back to false" in stderr


def test_step_is_immutable_but_cancellable(api: Kube, ns: str) -> None:
    step = _step()
    _apply(api, ns, step)
    code, stderr = _update(api, ns, step, {"spark": {"args": ["20"]}})
    assert code != 0
    assert "spec.spark is immutable: only spec.cancel can change" in stderr
    code, stderr = _update(api, ns, step, {"activeDeadlineSeconds": 60})
    assert code != 0
    assert "spec.activeDeadlineSeconds is immutable" in stderr
    code, stderr = _update(api, ns, step, {"cancel": True})
    assert code == 0, stderr
    code, stderr = _update(api, ns, step, {"cancel": False})
    assert code != 0
    assert "spec.cancel cannot be set back to false" in stderr


def test_protected_cluster_refuses_deletion(api: Kube, ns: str) -> None:
    cluster = _cluster(terminationProtected=True)
    _apply(api, ns, cluster)
    proc = api.run("delete", "emrcluster", "basic", "-n", ns, "--wait=false", check=False)
    assert proc.returncode != 0
    assert (
        "EMRCluster basic is termination-protected: set spec.terminationProtected to false first"
        in proc.stderr
    )
    code, stderr = _update(api, ns, cluster, {"terminationProtected": False})
    assert code == 0, stderr
    api.run("delete", "emrcluster", "basic", "-n", ns, "--wait=false")


def test_deleting_the_namespace_still_deletes_a_protected_cluster(api: Kube) -> None:
    name = f"api-check-{secrets.token_hex(4)}"
    api.run("create", "namespace", name)
    _apply(api, name, _cluster(terminationProtected=True))
    api.run("delete", "namespace", name, "--wait=false")

    def gone() -> bool:
        return api.run("get", "namespace", name, check=False).returncode != 0

    wait_until(gone, 60, f"namespace {name} to be deleted")


def test_a_core_group_can_be_renamed_or_removed_but_hdfs_keeps_one(api: Kube, ns: str) -> None:
    """Removing or renaming a core group is a scale-in of that group to 0: its DataNodes are decommissioned
    before its StatefulSet and volumes go (tests/integration/test_scaling.py); an HDFS cluster keeps at
    least one core group (issue 13, kind 5)."""
    cluster = _cluster()
    _apply(api, ns, cluster)
    core = {"name": "core", "replicas": 2, "storage": {"size": "2Gi"}}
    code, stderr = _update(
        api, ns, cluster, {"coreGroups": [core, {**core, "name": "core-b", "replicas": 1}]}
    )
    assert code == 0, stderr
    code, stderr = _update(api, ns, cluster, {"coreGroups": [{**core, "name": "core-c"}]})  # renamed
    assert code == 0, stderr
    code, stderr = _update(api, ns, cluster, {"coreGroups": []})
    assert code != 0
    assert "HDFS needs at least one core group" in stderr
