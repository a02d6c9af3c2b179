"""What a spec change touches: resizing changes replicas only; a configuration change rolls exactly the pods
that mount it (through the config-hash annotation of their template)."""

from __future__ import annotations

from typing import Any

from golden_support import children_by_key, resolve_spec, small_spec

from kemr.resolve.names import CONFIG_HASH_ANNOTATION

Key = tuple[str, str]


def _changed(before: dict[Key, dict[str, Any]], after: dict[Key, dict[str, Any]]) -> set[Key]:
    assert before.keys() == after.keys()
    return {key for key in before if before[key] != after[key]}


def _config_hash(child: dict[str, Any]) -> str:
    annotations: dict[str, str] = child["spec"]["template"]["metadata"]["annotations"]
    return annotations[CONFIG_HASH_ANNOTATION]


def _spec(core_replicas: int = 2, task_replicas: int = 1, **fields: Any) -> Any:
    return small_spec(
        coreGroups=[{"name": "core", "replicas": core_replicas}, {"name": "other", "replicas": 1}],
        taskGroups=[{"name": "spot", "minReplicas": 0, "maxReplicas": 8, "replicas": task_replicas}],
        **fields,
    )


def test_core_resize_changes_only_its_replicas_and_the_drivers_replication() -> None:
    before = children_by_key(resolve_spec(_spec(core_replicas=1)))
    after = children_by_key(resolve_spec(_spec(core_replicas=2)))
    # The drivers' ConfigMap carries dfs.replication = min(3, core nodes), 2 -> 3; no pod mounts it.
    assert _changed(before, after) == {
        ("StatefulSet", "sales-core-core"),
        ("ConfigMap", "sales-client-config"),
    }
    sts_before, sts_after = (
        before[("StatefulSet", "sales-core-core")],
        after[("StatefulSet", "sales-core-core")],
    )
    assert sts_after["spec"]["replicas"] == 2
    assert {**sts_after, "spec": {**sts_after["spec"], "replicas": 1}} == sts_before


def test_task_resize_changes_only_its_replicas() -> None:
    before = children_by_key(resolve_spec(_spec(task_replicas=1)))
    after = children_by_key(resolve_spec(_spec(task_replicas=5)))
    assert _changed(before, after) == {("Deployment", "sales-task-spot")}
    dep = after[("Deployment", "sales-task-spot")]
    assert dep["spec"]["replicas"] == 5
    assert {**dep, "spec": {**dep["spec"], "replicas": 1}} == before[("Deployment", "sales-task-spot")]


def test_managed_scaling_sizes_task_groups_within_bounds() -> None:
    resolved = resolve_spec(_spec(), task_replicas={"spot": 6})
    assert resolved.group("task", "spot").replicas == 6
    assert resolve_spec(_spec(), task_replicas={"spot": 99}).group("task", "spot").replicas == 8


def test_cluster_configuration_change_rolls_every_group() -> None:
    conf = [{"classification": "spark-defaults", "properties": {"spark.sql.shuffle.partitions": "32"}}]
    before = children_by_key(resolve_spec(_spec()))
    after = children_by_key(resolve_spec(_spec(configurations=conf)))
    workloads = [k for k in before if k[0] in ("StatefulSet", "Deployment")]
    assert len(workloads) == 4
    for key in workloads:
        assert _config_hash(before[key]) != _config_hash(after[key]), key


def test_group_configuration_change_rolls_only_that_group() -> None:
    base = _spec()
    changed = small_spec(
        coreGroups=[
            {"name": "core", "replicas": 2},
            {
                "name": "other",
                "replicas": 1,
                "configurations": [{"classification": "hdfs-site", "properties": {"dfs.blocksize": "64m"}}],
            },
        ],
        taskGroups=[{"name": "spot", "minReplicas": 0, "maxReplicas": 8, "replicas": 1}],
    )
    before, after = children_by_key(resolve_spec(base)), children_by_key(resolve_spec(changed))
    assert _changed(before, after) == {
        ("StatefulSet", "sales-core-other"),
        ("ConfigMap", "sales-core-other-config"),
    }
    key = ("StatefulSet", "sales-core-other")
    assert _config_hash(before[key]) != _config_hash(after[key])


def test_the_same_spec_builds_the_same_children() -> None:
    assert children_by_key(resolve_spec(_spec())) == children_by_key(resolve_spec(_spec()))
