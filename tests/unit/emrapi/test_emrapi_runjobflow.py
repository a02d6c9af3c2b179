"""RunJobFlow → EMRCluster (+ EMRSteps), pinned in golden files, and the request errors a client sees."""

from __future__ import annotations

import json
from typing import Any

import pytest
from emrapi_support import NAMESPACE, check_golden, dump, load_request

from kemr.api import EMRClusterSpec, EMRStepSpec
from kemr.emrapi.errors import InvalidRequestException, ValidationException
from kemr.emrapi.translate import DEFAULT_INSTANCE_TYPES, cluster_from_run_job_flow, step_from_config

EXAMPLES = ["airflow", "uniform", "full"]


def translate(request: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return cluster_from_run_job_flow(
        request, namespace=NAMESPACE, instance_types=DEFAULT_INSTANCE_TYPES, **kwargs
    ).cluster


def minimal(**fields: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "Name": "test",
        "Instances": {
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
            ]
        },
    }
    request.update(fields)
    return request


@pytest.mark.parametrize("name", EXAMPLES)
def test_translation_matches_golden_file(name: str) -> None:
    result = cluster_from_run_job_flow(
        load_request(name), namespace=NAMESPACE, instance_types=DEFAULT_INSTANCE_TYPES
    )
    steps = [
        step_from_config(step, cluster_name="sales", namespace=NAMESPACE, field=f"Steps[{i}]")
        for i, step in enumerate(result.steps)
    ]
    check_golden(f"runjobflow-{name}", dump([result.cluster, *steps]))


@pytest.mark.parametrize("name", EXAMPLES)
def test_translation_is_a_valid_spec(name: str) -> None:
    result = cluster_from_run_job_flow(
        load_request(name), namespace=NAMESPACE, instance_types=DEFAULT_INSTANCE_TYPES
    )
    spec = EMRClusterSpec.model_validate(result.cluster["spec"])
    # The CRD's CEL rules the models don't run: the ones a translation could break.
    assert "Spark" in spec.applications
    assert ("HDFS" in spec.applications) == bool(spec.core_groups)
    assert "Hive" in spec.applications or "Trino" not in spec.applications
    names = [g.name for g in spec.core_groups] + [g.name for g in spec.task_groups]
    assert len(names) == len(set(names))
    for group in spec.task_groups:
        assert group.min_replicas <= group.max_replicas
        assert group.replicas is None or group.min_replicas <= group.replicas <= group.max_replicas
    for i, step in enumerate(result.steps):
        built = step_from_config(step, cluster_name="sales", namespace=NAMESPACE, field=f"Steps[{i}]")
        EMRStepSpec.model_validate(built["spec"])


def test_full_request_in_detail() -> None:
    cluster = translate(load_request("full"))
    spec = cluster["spec"]
    assert spec["applications"] == ["Spark", "HDFS", "Hive", "Trino"]
    assert spec["master"] == {"resources": {"cpu": "7500m", "memory": "24Gi"}}
    assert spec["coreGroups"][0]["storage"] == {"size": "200Gi"}
    spot, second = spec["taskGroups"]
    assert (spot["name"], spot["capacityType"], second["name"], second["capacityType"]) == (
        "spot-workers",
        "spot",
        "task2",
        "on-demand",
    )
    # 20 units - master 1 - core 3 - the other task group's 1 = 15 for the scaled group
    assert (spot["minReplicas"], spot["maxReplicas"], spot["replicas"]) == (0, 15, 2)
    assert spec["managedScaling"] == {"enabled": True}
    assert spec["autoTermination"] == {"keepAliveWhenNoSteps": True, "idleTimeoutSeconds": 7200}
    assert {c["classification"] for c in spec["configurations"]} == {
        "spark-defaults",
        "spark-env",
        "hive-site",
    }
    assert cluster["metadata"]["labels"] == {"team": "data"}
    tags = json.loads(cluster["metadata"]["annotations"]["kemr.io/emr-tags"])
    assert tags == {"aws:cost center": "R&D 42", "team": "data"}


def test_keep_alive_defaults_to_false_as_in_emr() -> None:
    assert translate(minimal())["spec"]["autoTermination"] == {"keepAliveWhenNoSteps": False}


def test_name_becomes_a_dns_1035_generate_name() -> None:
    meta = translate(minimal(Name="2024 Nightly ETL for the whole company"))["metadata"]
    assert meta["generateName"] == "cluster-2024-nightly-etl-"
    assert len(meta["generateName"]) + 5 <= 30
    assert meta["annotations"]["kemr.io/emr-name"] == "2024 Nightly ETL for the whole company"


def test_releases() -> None:
    assert translate(minimal(ReleaseLabel="emr-7.0.0"))["spec"]["release"] == "kemr-1.0"
    mapped = translate(minimal(ReleaseLabel="emr-7.0.0"), releases={"emr-7.0.0": "kemr-2.0"})
    assert mapped["spec"]["release"] == "kemr-2.0"
    assert translate(minimal(ReleaseLabel="kemr-1.0"))["spec"]["release"] == "kemr-1.0"
    with pytest.raises(ValidationException, match=r"^ReleaseLabel: unknown release 'foo'"):
        translate(minimal(ReleaseLabel="foo"))


def test_hdfs_follows_the_core_group() -> None:
    request = minimal(Applications=[{"Name": "Hadoop"}, {"Name": "Spark"}])
    request["Instances"]["InstanceGroups"].pop()
    assert translate(request)["spec"]["applications"] == ["Spark"]
    assert translate(minimal(Applications=[{"Name": "Spark"}]))["spec"]["applications"] == ["Spark", "HDFS"]


@pytest.mark.parametrize(
    ("request_fields", "error", "message"),
    [
        ({"Name": None}, ValidationException, r"^Name: required"),
        ({"Instances": None}, ValidationException, r"^Instances: required"),
        (
            {"Applications": [{"Name": "Spark"}, {"Name": "Flink"}]},
            ValidationException,
            r"^Applications\[1\]\.Name",
        ),
        (
            {"Configurations": [{"Classification": "yarn-site"}]},
            ValidationException,
            r"^Configurations\[0\]\.Classification",
        ),
        ({"LogUri": "hdfs:///logs"}, ValidationException, r"^LogUri"),
        ({"StepConcurrencyLevel": 0}, ValidationException, r"^StepConcurrencyLevel"),
        (
            {"AutoTerminationPolicy": {"IdleTimeout": 10}},
            ValidationException,
            r"^AutoTerminationPolicy\.IdleTimeout",
        ),
        ({"AmiVersion": "3.11.0"}, InvalidRequestException, r"^AmiVersion"),
        (
            {"BootstrapActions": [{"Name": "x", "ScriptBootstrapAction": {"Path": "relative.sh"}}]},
            ValidationException,
            r"^BootstrapActions\[0\]\.ScriptBootstrapAction\.Path",
        ),
        (
            {
                "Steps": [
                    {"Name": "s", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit"]}}
                ]
            },
            ValidationException,
            r"^Steps\[0\]\.HadoopJarStep\.Args",
        ),
        (
            {
                "StepConcurrencyLevel": 2,
                "Steps": [{"Name": "s", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["ls"]}}],
            },
            ValidationException,
            r"^Steps\[0\]\.ActionOnFailure",
        ),
        (
            {
                "ManagedScalingPolicy": {
                    "ComputeLimits": {
                        "UnitType": "InstanceFleetUnits",
                        "MinimumCapacityUnits": 1,
                        "MaximumCapacityUnits": 2,
                    }
                }
            },
            InvalidRequestException,
            r"^ManagedScalingPolicy\.ComputeLimits\.UnitType",
        ),
    ],
)
def test_request_errors_name_the_field(
    request_fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    request = minimal()
    for key, value in request_fields.items():
        if value is None:
            request.pop(key)
        else:
            request[key] = value
    with pytest.raises(error, match=message):
        translate(request)


def test_instance_group_errors_name_the_field() -> None:
    request = minimal()
    request["Instances"]["InstanceGroups"][1]["InstanceType"] = "x9.huge"
    with pytest.raises(ValidationException) as err:
        translate(request)
    assert err.value.message.startswith(
        "Instances.InstanceGroups[1].InstanceType: unknown instance type 'x9.huge'; known: c5.2xlarge,"
    )
    assert err.value.message.endswith("(the table is the chart's emrApi.instanceTypes)")
    request = minimal()
    request["Instances"]["InstanceFleets"] = [{"InstanceFleetType": "MASTER"}]
    with pytest.raises(
        InvalidRequestException, match="instance fleets are not supported; use InstanceGroups"
    ):
        translate(request)
    request = minimal()
    request["Instances"]["InstanceGroups"][0]["InstanceCount"] = 3
    with pytest.raises(InvalidRequestException, match=r"^Instances\.InstanceGroups\[0\]\.InstanceCount"):
        translate(request)
    request = minimal()
    del request["Instances"]["InstanceGroups"][0]
    with pytest.raises(ValidationException, match="a MASTER instance group is required"):
        translate(request)
