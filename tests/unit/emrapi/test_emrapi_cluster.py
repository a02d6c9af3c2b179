"""EMRCluster → EMR's Cluster, ClusterSummary and InstanceGroups; ModifyInstanceGroups and the policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from emrapi_support import NAMESPACE, UID, check_golden, created, dump, load_request

from kemr.api import EMRClusterSpec
from kemr.emrapi.errors import InvalidRequestException, ValidationException
from kemr.emrapi.translate import (
    DEFAULT_INSTANCE_TYPES,
    add_tags_patch,
    auto_termination_patch,
    auto_termination_policy,
    cluster_from_run_job_flow,
    cluster_id,
    cluster_summary,
    describe_cluster,
    instance_group_id,
    instance_groups,
    list_bootstrap_actions,
    managed_scaling_policy,
    modify_instance_groups_patch,
    parse_instance_types,
    remove_auto_termination_patch,
    remove_tags_patch,
    resources_for,
    scaling_patch,
)
from kemr.emrapi.translate.cluster import state_change_reason

RUNNING_STATUS: dict[str, Any] = {
    "state": "WAITING",
    "stateChangeReason": {"message": "Cluster ready to run steps"},
    "endpoints": {"master": "spark://analytics-x1y2z-master.analytics.svc:7077"},
    "timeline": {"created": "2026-01-02T03:04:06Z", "ready": "2026-01-02T03:10:00Z"},
    "groups": [
        {"name": "master", "role": "master", "desired": 1, "ready": 1},
        {"name": "core", "role": "core", "desired": 3, "ready": 3},
        {"name": "spot-workers", "role": "task", "desired": 4, "ready": 2},
        {"name": "task2", "role": "task", "desired": 1, "ready": 1},
    ],
}


def full_cluster(**status: Any) -> dict[str, Any]:
    manifest = cluster_from_run_job_flow(
        load_request("full"), namespace=NAMESPACE, instance_types=DEFAULT_INSTANCE_TYPES
    ).cluster
    return created(manifest, "analytics-x1y2z", **(status or RUNNING_STATUS))


def test_describe_cluster_golden() -> None:
    obj = full_cluster()
    check_golden(
        "describe-full",
        dump(
            [
                {"Cluster": describe_cluster(obj, instance_types=DEFAULT_INSTANCE_TYPES, region="eu-west-1")},
                {"InstanceGroups": instance_groups(obj, instance_types=DEFAULT_INSTANCE_TYPES)},
                {"Clusters": [cluster_summary(obj)]},
            ]
        ),
    )


def test_describe_cluster_fields_waiters_read() -> None:
    cluster = describe_cluster(full_cluster(), instance_types=DEFAULT_INSTANCE_TYPES)
    assert cluster["Id"] == cluster_id(UID)
    assert cluster["Name"] == "analytics"
    assert cluster["Status"]["State"] == "WAITING"
    assert cluster["Status"]["Timeline"] == {"CreationDateTime": 1767323046.0, "ReadyDateTime": 1767323400.0}
    assert cluster["MasterPublicDnsName"] == "analytics-x1y2z-master.analytics.svc"
    assert cluster["ReleaseLabel"] == "emr-7.1.0"
    assert cluster["AutoTerminate"] is False
    assert cluster["TerminationProtected"] is True
    assert (
        cluster["ClusterArn"] == f"arn:aws:elasticmapreduce:us-east-1:000000000000:cluster/{cluster_id(UID)}"
    )
    assert cluster["Applications"][:2] == [
        {"Name": "Spark", "Version": "3.5.9"},
        {"Name": "Hadoop", "Version": "3.3.6"},
    ]
    assert {"Key": "team", "Value": "data"} in cluster["Tags"]


def test_cluster_without_status_is_starting() -> None:
    obj = {"metadata": {"name": "basic", "uid": "u", "creationTimestamp": "2026-01-02T03:04:05Z"}, "spec": {}}
    summary = cluster_summary(obj)
    assert summary["Status"] == {
        "State": "STARTING",
        "StateChangeReason": {},
        "Timeline": {"CreationDateTime": 1767323045.0},
    }
    assert summary["Name"] == "basic"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("USER_REQUEST", {"Code": "USER_REQUEST", "Message": "m"}),
        ("ALL_STEPS_COMPLETED", {"Code": "ALL_STEPS_COMPLETED", "Message": "m"}),
        ("IDLE_TIMEOUT", {"Code": "ALL_STEPS_COMPLETED", "Message": "IDLE_TIMEOUT: m"}),
        ("MAX_LIFETIME", {"Code": "USER_REQUEST", "Message": "MAX_LIFETIME: m"}),
        ("SOMETHING_NEW", {"Message": "SOMETHING_NEW: m"}),
    ],
)
def test_reason_codes_are_emrs(code: str, expected: dict[str, str]) -> None:
    assert state_change_reason({"code": code, "message": "m"}) == expected


def test_instance_groups() -> None:
    groups = {g["Name"]: g for g in instance_groups(full_cluster(), instance_types=DEFAULT_INSTANCE_TYPES)}
    assert [g["InstanceGroupType"] for g in groups.values()] == ["MASTER", "CORE", "TASK", "TASK"]
    assert groups["master"]["InstanceType"] == "m5.2xlarge"
    assert groups["spot-workers"]["Market"] == "SPOT"
    assert groups["spot-workers"]["Status"]["State"] == "RESIZING"
    assert (
        groups["spot-workers"]["RequestedInstanceCount"],
        groups["spot-workers"]["RunningInstanceCount"],
    ) == (4, 2)
    assert groups["core"]["Status"]["State"] == "RUNNING"
    assert groups["core"]["Id"] == instance_group_id(UID, "core")
    ended = instance_groups(full_cluster(state="TERMINATED"), instance_types=DEFAULT_INSTANCE_TYPES)
    assert {g["Status"]["State"] for g in ended} == {"ENDED"}


def test_instance_type_reverse_lookup() -> None:
    resources = {"cpu": "3.5", "memory": "12288Mi"}
    obj = {"metadata": {"uid": "u"}, "spec": {"master": {"resources": resources}}}
    (master,) = instance_groups(obj, instance_types=DEFAULT_INSTANCE_TYPES)
    assert master["InstanceType"] == "m5.xlarge"
    resources["cpu"] = "3"
    assert instance_groups(obj, instance_types=DEFAULT_INSTANCE_TYPES)[0]["InstanceType"] == "kemr.custom"


def test_modify_instance_groups() -> None:
    obj = full_cluster()
    patch = modify_instance_groups_patch(
        obj,
        [
            {"InstanceGroupId": instance_group_id(UID, "core"), "InstanceCount": 5},
            {"InstanceGroupId": instance_group_id(UID, "task2"), "InstanceCount": 6},
        ],
    )
    assert [g["replicas"] for g in patch["coreGroups"]] == [5]
    task2 = patch["taskGroups"][1]
    assert (task2["minReplicas"], task2["replicas"], task2["maxReplicas"]) == (1, 6, 6)
    assert patch["taskGroups"][0] == obj["spec"]["taskGroups"][0]
    merged = {**obj["spec"], **patch}
    EMRClusterSpec.model_validate(merged)
    with pytest.raises(
        InvalidRequestException, match=r"^InstanceGroups\[0\]\.InstanceGroupId: no instance group"
    ):
        modify_instance_groups_patch(obj, [{"InstanceGroupId": "ig-NOPE", "InstanceCount": 1}])
    with pytest.raises(InvalidRequestException, match="master"):
        modify_instance_groups_patch(
            obj, [{"InstanceGroupId": instance_group_id(UID, "master"), "InstanceCount": 2}]
        )
    with pytest.raises(ValidationException, match=r"^InstanceGroups\[0\]\.InstanceCount"):
        modify_instance_groups_patch(
            obj, [{"InstanceGroupId": instance_group_id(UID, "core"), "InstanceCount": 0}]
        )


def test_managed_scaling_round_trip() -> None:
    obj = full_cluster()
    policy = {
        "ComputeLimits": {"UnitType": "Instances", "MinimumCapacityUnits": 6, "MaximumCapacityUnits": 12}
    }
    patch = scaling_patch(obj["spec"], policy, "ManagedScalingPolicy")
    spot = patch["taskGroups"][0]
    assert (spot["minReplicas"], spot["maxReplicas"], spot["replicas"]) == (1, 7, 2)
    obj["spec"].update(patch)
    EMRClusterSpec.model_validate(obj["spec"])
    assert managed_scaling_policy(obj)["ManagedScalingPolicy"]["ComputeLimits"] == {
        "UnitType": "Instances",
        "MinimumCapacityUnits": 6,
        "MaximumCapacityUnits": 12,
    }
    obj["spec"]["managedScaling"] = {"enabled": False}
    assert managed_scaling_policy(obj) == {}


def test_managed_scaling_in_vcpus() -> None:
    spec = {
        "master": {"resources": {"cpu": "4", "memory": "16Gi"}},
        "coreGroups": [{"name": "core", "replicas": 2, "resources": {"cpu": "4", "memory": "16Gi"}}],
        "taskGroups": [
            {"name": "t", "minReplicas": 0, "maxReplicas": 1, "resources": {"cpu": "8", "memory": "32Gi"}}
        ],
    }
    policy = {"ComputeLimits": {"UnitType": "VCPU", "MinimumCapacityUnits": 12, "MaximumCapacityUnits": 60}}
    group = scaling_patch(spec, policy, "ManagedScalingPolicy")["taskGroups"][0]
    assert (group["minReplicas"], group["maxReplicas"]) == (0, 6)


def test_auto_termination_policy() -> None:
    assert auto_termination_patch({"IdleTimeout": 600}) == {"autoTermination": {"idleTimeoutSeconds": 600}}
    assert auto_termination_patch({}) == {"autoTermination": {"idleTimeoutSeconds": 3600}}
    with pytest.raises(ValidationException, match=r"^AutoTerminationPolicy\.IdleTimeout"):
        auto_termination_patch({"IdleTimeout": 604801})
    assert remove_auto_termination_patch() == {"autoTermination": {"idleTimeoutSeconds": None}}
    assert auto_termination_policy(full_cluster()) == {"AutoTerminationPolicy": {"IdleTimeout": 7200}}


def test_bootstrap_actions() -> None:
    assert list_bootstrap_actions(full_cluster()) == [
        {
            "Name": "install-packages",
            "ScriptPath": "s3://bucket/bootstrap/install.sh",
            "Args": ["pandas", "pyarrow"],
        }
    ]


def test_tags_patches() -> None:
    obj = full_cluster()
    patch = add_tags_patch(
        obj, {"Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "not a label"}]}
    )
    meta = patch["metadata"]
    assert json.loads(meta["annotations"]["kemr.io/emr-tags"]) == {
        "aws:cost center": "R&D 42",
        "env": "prod",
        "team": "not a label",
    }
    assert meta["labels"] == {"env": "prod", "team": None}
    patch = remove_tags_patch(obj, {"TagKeys": ["team", "aws:cost center", "unknown"]})
    assert json.loads(patch["metadata"]["annotations"]["kemr.io/emr-tags"]) == {}
    assert patch["metadata"]["labels"] == {"team": None}


def test_instance_type_table() -> None:
    table = parse_instance_types("m5.xlarge: {cpu: 4, memory: 12Gi}\nx.small: ['500m', 1Gi]\n")
    assert table == {"m5.xlarge": ("4", "12Gi"), "x.small": ("500m", "1Gi")}
    assert resources_for(table, "x.small", "f") == {"cpu": "500m", "memory": "1Gi"}
    with pytest.raises(ValueError, match=r"instanceTypes\.bad\.memory"):
        parse_instance_types({"bad": {"cpu": "1", "memory": "lots"}})
    assert len(DEFAULT_INSTANCE_TYPES) == 13
    assert DEFAULT_INSTANCE_TYPES["m5.xlarge"] == ("3500m", "12Gi")
