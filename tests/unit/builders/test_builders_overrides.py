"""podOverrides: users add to the pods; the fields the operator owns always come back."""

from __future__ import annotations

from typing import Any

from golden_support import children_by_key, container, pod_spec, resolve_spec, small_spec

from kemr.builders.overrides import apply_pod_overrides, merge
from kemr.resolve.names import CONFIG_HASH_ANNOTATION

HOSTILE: dict[str, Any] = {
    "metadata": {
        "name": "mine",
        "labels": {"kemr.io/role": "evil", "kemr.io/cluster": "other", "team": "data"},
        "annotations": {CONFIG_HASH_ANNOTATION: "frozen", "note": "kept"},
    },
    "spec": {
        "serviceAccountName": "admin",
        "enableServiceLinks": True,
        "hostname": "x",
        "restartPolicy": "Never",
        "nodeSelector": {"zone": "a"},
        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
        "priorityClassName": "batch",
        "containers": [
            {
                "name": "spark-worker",
                "image": "evil/image",
                "command": ["sleep", "infinity"],
                "args": ["--oops"],
                "ports": [{"containerPort": 1}],
                "resources": {"limits": {"memory": "100Ti"}},
                "readinessProbe": {"exec": {"command": ["true"]}},
                "env": [
                    {"name": "SPARK_WORKER_MEMORY", "value": "100g"},
                    {"name": "EXTRA", "value": "1"},
                ],
                "volumeMounts": [
                    {"name": "cache", "mountPath": "/cache"},
                    {"name": "cache", "mountPath": "/etc/kemr/conf"},
                ],
                "workingDir": "/data",
            },
            {"name": "sidecar", "image": "busybox"},
        ],
        "volumes": [
            {"name": "config", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}},
        ],
    },
}


def _task(overrides: dict[str, Any] | None) -> dict[str, Any]:
    spec = small_spec(podOverrides=overrides) if overrides else small_spec()
    return children_by_key(resolve_spec(spec))[("Deployment", "sales-task-spot")]


def test_owned_fields_of_the_operator_containers_come_back() -> None:
    plain, hostile = _task(None), _task(HOSTILE)
    mine, theirs = container(plain, "spark-worker"), container(hostile, "spark-worker")
    for field in (
        "image",
        "command",
        "ports",
        "resources",
        "readinessProbe",
        "livenessProbe",
        "startupProbe",
    ):
        assert theirs[field] == mine[field], field
    assert "args" not in theirs
    env = {e["name"]: e for e in theirs["env"]}
    assert env["SPARK_WORKER_MEMORY"] == next(e for e in mine["env"] if e["name"] == "SPARK_WORKER_MEMORY")
    assert env["EXTRA"] == {"name": "EXTRA", "value": "1"}
    assert [e["name"] for e in theirs["env"]][: len(mine["env"])] == [e["name"] for e in mine["env"]]
    mounts = {m["mountPath"]: m["name"] for m in theirs["volumeMounts"]}
    assert mounts["/etc/kemr/conf"] == "config"
    assert mounts["/cache"] == "cache"
    assert theirs["workingDir"] == "/data"  # not owned: the user's


def test_owned_pod_fields_labels_and_volumes_come_back() -> None:
    plain, hostile = _task(None), _task(HOSTILE)
    template, spec = hostile["spec"]["template"], pod_spec(hostile)
    assert template["metadata"]["labels"] == {
        **plain["spec"]["template"]["metadata"]["labels"],
        "team": "data",
    }
    annotations = template["metadata"]["annotations"]
    assert (
        annotations[CONFIG_HASH_ANNOTATION]
        == plain["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    )
    assert annotations["note"] == "kept"
    assert "name" not in template["metadata"]
    assert spec["serviceAccountName"] == "sales-sa"
    assert spec["enableServiceLinks"] is False
    assert "hostname" not in spec
    assert "restartPolicy" not in spec
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["config"] == next(v for v in pod_spec(plain)["volumes"] if v["name"] == "config")
    assert volumes["cache"] == {"name": "cache", "emptyDir": {"medium": "Memory"}}


def test_users_add_what_the_operator_does_not_own() -> None:
    spec = pod_spec(_task(HOSTILE))
    assert [c["name"] for c in spec["containers"]] == ["spark-worker", "sidecar"]
    assert spec["nodeSelector"] == {"karpenter.sh/capacity-type": "spot", "zone": "a"}
    # Placement tolerations stay; the user's are added.
    assert {
        "key": "karpenter.sh/capacity-type",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    } in (spec["tolerations"])
    assert {"key": "dedicated", "operator": "Exists"} in spec["tolerations"]
    assert spec["priorityClassName"] == "batch"


def test_group_overrides_apply_after_the_cluster_wide_ones() -> None:
    spec = small_spec(
        podOverrides={"spec": {"priorityClassName": "cluster", "nodeSelector": {"zone": "a"}}},
        taskGroups=[
            {
                "name": "spot",
                "maxReplicas": 3,
                "podOverrides": {"spec": {"priorityClassName": "group", "nodeSelector": {"zone": None}}},
            }
        ],
    )
    children = children_by_key(resolve_spec(spec))
    task = pod_spec(children[("Deployment", "sales-task-spot")])
    core = pod_spec(children[("StatefulSet", "sales-core-core")])
    assert task["priorityClassName"] == "group"
    assert task["nodeSelector"] == {"karpenter.sh/capacity-type": "spot"}  # null removed the cluster's key
    assert core["priorityClassName"] == "cluster"
    assert core["nodeSelector"] == {"karpenter.sh/capacity-type": "on-demand", "zone": "a"}


def test_master_overrides_reach_only_the_master() -> None:
    spec = small_spec(master={"podOverrides": {"metadata": {"annotations": {"who": "master"}}}})
    children = children_by_key(resolve_spec(spec))
    master = children[("StatefulSet", "sales-master")]["spec"]["template"]["metadata"]
    core = children[("StatefulSet", "sales-core-core")]["spec"]["template"]["metadata"]
    assert master["annotations"]["who"] == "master"
    assert "who" not in core["annotations"]


def test_merge_rules() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "env": [{"name": "X", "value": "1"}], "tolerations": [{"k": 1}]}
    patch = {
        "a": {"c": [3], "d": None},
        "env": [{"name": "X", "value": "2"}, {"name": "Y"}],
        "tolerations": [{"k": 2}],
    }
    assert merge(base, patch) == {
        "a": {"b": 1, "c": [3]},
        "env": [{"name": "X", "value": "2"}, {"name": "Y"}],
        "tolerations": [{"k": 1}, {"k": 2}],
    }
    assert base["env"] == [{"name": "X", "value": "1"}]  # inputs untouched


def test_overrides_never_mutate_the_generated_template() -> None:
    generated = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    snapshot = repr(generated)
    apply_pod_overrides(generated, [{"spec": {"containers": [{"name": "c", "env": [{"name": "E"}]}]}}])
    assert repr(generated) == snapshot
