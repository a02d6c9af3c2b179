"""What the schema can't say: keys and fields the operator owns are rejected, naming the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kemr.api import EMRClusterSpec, EMRStepSpec
from kemr.validate import ValidationIssue, validate_cluster, validate_step

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"


def _cluster(**spec: Any) -> EMRClusterSpec:
    spec.setdefault("coreGroups", [{"name": "core", "replicas": 2}])
    return EMRClusterSpec.model_validate(spec)


def _fields(issues: list[ValidationIssue]) -> list[str]:
    return [issue.field for issue in issues]


def test_examples_are_valid() -> None:
    cluster = yaml.safe_load((EXAMPLES / "emrcluster-basic.yaml").read_text())
    assert validate_cluster(EMRClusterSpec.model_validate(cluster["spec"])) == []
    step = yaml.safe_load((EXAMPLES / "emrstep-sparkpi.yaml").read_text())
    assert validate_step(EMRStepSpec.model_validate(step["spec"])) == []


def test_user_settings_that_the_operator_does_not_own_pass() -> None:
    spec = _cluster(
        configurations=[
            {"classification": "spark-defaults", "properties": {"spark.sql.shuffle.partitions": "64"}},
            {"classification": "spark-env", "properties": {"PYSPARK_PYTHON": "python3"}},
            {"classification": "core-site", "properties": {"fs.s3a.connection.maximum": "200"}},
            {"classification": "hdfs-site", "properties": {"dfs.replication": "2", "dfs.blocksize": "64m"}},
        ],
        podOverrides={"metadata": {"labels": {"team": "data"}}, "spec": {"nodeSelector": {"disk": "ssd"}}},
    )
    assert validate_cluster(spec) == []


def test_cluster_wide_owned_key_names_the_exact_field() -> None:
    spec = _cluster(
        configurations=[{"classification": "spark-defaults", "properties": {"spark.master": "local[*]"}}]
    )
    [issue] = validate_cluster(spec)
    assert issue.field == 'spec.configurations[spark-defaults].properties["spark.master"]'
    assert "spark.master" in issue.message
    assert "set by the operator" in issue.message


def test_group_owned_keys_name_the_group() -> None:
    spec = _cluster(
        coreGroups=[
            {
                "name": "core",
                "replicas": 2,
                "configurations": [
                    {"classification": "core-site", "properties": {"fs.defaultFS": "hdfs://x"}}
                ],
            }
        ],
        taskGroups=[
            {
                "name": "spot",
                "maxReplicas": 3,
                "configurations": [
                    {"classification": "spark-defaults", "properties": {"spark.kubernetes.namespace": "x"}}
                ],
            }
        ],
    )
    assert _fields(validate_cluster(spec)) == [
        'spec.coreGroups[core].configurations[core-site].properties["fs.defaultFS"]',
        'spec.taskGroups[spot].configurations[spark-defaults].properties["spark.kubernetes.namespace"]',
    ]


@pytest.mark.parametrize(
    ("classification", "key", "fix"),
    [
        ("spark-defaults", "spark.driver.host", "addresses and ports"),
        ("spark-defaults", "spark.local.dir", "volumes"),
        ("spark-defaults", "spark.eventLog.dir", "spec.logUri"),
        ("spark-defaults", "spark.hadoop.fs.s3a.secret.key", "spec.s3.credentials"),
        ("spark-env", "SPARK_MASTER_HOST", "addresses and ports"),
        ("spark-env", "AWS_SECRET_ACCESS_KEY", "spec.s3.credentials"),
        ("core-site", "fs.s3a.access.key", "spec.s3.credentials"),
        ("core-site", "fs.s3a.endpoint", "spec.s3"),
        ("hdfs-site", "dfs.namenode.name.dir", "volumes"),
        ("hdfs-site", "dfs.datanode.data.dir", "volumes"),
        ("hdfs-site", "dfs.namenode.rpc-address", "addresses and ports"),
        ("hdfs-site", "dfs.ha.namenodes.x", "one NameNode"),
    ],
)
def test_owned_keys_say_how_to_get_what_was_wanted(classification: str, key: str, fix: str) -> None:
    spec = _cluster(configurations=[{"classification": classification, "properties": {key: "x"}}])
    [issue] = validate_cluster(spec)
    assert key in issue.field
    assert fix in issue.message


def test_values_that_would_break_line_based_files() -> None:
    spec = _cluster(
        configurations=[
            {
                "classification": "spark-defaults",
                "properties": {"spark.a": "1\nspark.master local", "bad key": "1"},
            },
            {"classification": "spark-env", "properties": {"1BAD": "x"}},
        ]
    )
    assert _fields(validate_cluster(spec)) == [
        'spec.configurations[spark-defaults].properties["spark.a"]',
        'spec.configurations[spark-defaults].properties["bad key"]',
        'spec.configurations[spark-env].properties["1BAD"]',
    ]


def test_hdfs_replication_cannot_exceed_core_nodes() -> None:
    spec = _cluster(configurations=[{"classification": "hdfs-site", "properties": {"dfs.replication": "3"}}])
    [issue] = validate_cluster(spec)
    assert issue.field == 'spec.configurations[hdfs-site].properties["dfs.replication"]'
    assert "2 core node(s)" in issue.message
    spec = _cluster(
        configurations=[{"classification": "hdfs-site", "properties": {"dfs.replication": "two"}}]
    )
    assert "positive integer" in validate_cluster(spec)[0].message


def test_pod_overrides_cannot_take_owned_fields() -> None:
    spec = _cluster(
        podOverrides={"spec": {"serviceAccountName": "admin"}, "status": {}},
        master={
            "podOverrides": {"metadata": {"labels": {"kemr.io/role": "core", "app.kubernetes.io/name": "x"}}}
        },
        coreGroups=[{"name": "core", "replicas": 2, "podOverrides": {"spec": {"hostname": "h"}}}],
    )
    issues = validate_cluster(spec)
    assert _fields(issues) == [
        "spec.podOverrides.spec.serviceAccountName",
        "spec.podOverrides",
        'spec.master.podOverrides.metadata.labels["kemr.io/role"]',
        'spec.master.podOverrides.metadata.labels["app.kubernetes.io/name"]',
        "spec.coreGroups[core].podOverrides.spec.hostname",
    ]
    assert "serviceAccountName" in issues[0].message
    assert "spec.s3.credentials" in issues[0].message


def test_step_conf_owned_keys() -> None:
    spec = EMRStepSpec.model_validate(
        {
            "clusterRef": {"name": "c"},
            "spark": {
                "mainApplicationFile": "s3a://b/app.py",
                "conf": {
                    "spark.executor.memory": "4g",
                    "spark.master": "yarn",
                    "spark.driver.memory": "8g",
                    "spark.kubernetes.container.image": "x",
                },
            },
        }
    )
    issues = validate_step(spec)
    assert _fields(issues) == [
        'spec.spark.conf["spark.master"]',
        'spec.spark.conf["spark.driver.memory"]',
        'spec.spark.conf["spark.kubernetes.container.image"]',
    ]
    assert "spec.spark.driver.resources.memory" in issues[1].message


def test_inline_steps_are_validated_as_steps() -> None:
    spec = _cluster(
        steps=[
            {"name": "ok", "command": {"args": ["true"]}},
            {"name": "bad", "spark": {"mainApplicationFile": "/app.jar", "conf": {"spark.driver.port": "1"}}},
        ]
    )
    assert _fields(validate_cluster(spec)) == ['spec.steps[bad].spark.conf["spark.driver.port"]']


def test_issue_reads_as_field_colon_message() -> None:
    assert str(ValidationIssue("spec.x", "bad")) == "spec.x: bad"


def test_a_driver_too_small_for_sparks_minimum_heap_names_the_minimum() -> None:
    small = EMRStepSpec.model_validate(
        {
            "clusterRef": {"name": "etl"},
            "spark": {"mainApplicationFile": "/a.py", "driver": {"resources": {"memory": "512Mi"}}},
        }
    )
    [issue] = validate_step(small)
    assert issue.field == "spec.spark.driver.resources.memory"
    assert "below Spark's minimum of 450Mi" in issue.message
    assert "at least 834Mi" in issue.message
    fits = small.model_copy(deep=True)
    fits.spark.driver.resources.memory = "1Gi"  # type: ignore[union-attr]
    assert validate_step(fits) == []


def test_an_external_shuffle_service_per_step_is_refused_with_the_fix() -> None:
    spec = EMRStepSpec.model_validate(
        {
            "clusterRef": {"name": "etl"},
            "spark": {"mainApplicationFile": "/a.py", "conf": {"spark.shuffle.service.enabled": "true"}},
        }
    )
    [issue] = validate_step(spec)
    assert issue.field == 'spec.spark.conf["spark.shuffle.service.enabled"]'
    assert "no external shuffle service" in issue.message


def test_a_spark_sql_driver_too_small_is_refused_and_a_command_has_no_heap_to_check() -> None:
    small = {"driver": {"resources": {"memory": "512Mi"}}}
    ref = {"clusterRef": {"name": "etl"}}
    sql = EMRStepSpec.model_validate({**ref, "sparkSql": {"query": "SELECT 1", **small}})
    assert _fields(validate_step(sql)) == ["spec.sparkSql.driver.resources.memory"]
    command = EMRStepSpec.model_validate({**ref, "command": {"args": ["true"], **small}})
    assert validate_step(command) == []


def test_a_spark_steps_issues_come_conf_first_then_the_driver() -> None:
    spec = EMRStepSpec.model_validate(
        {
            "clusterRef": {"name": "etl"},
            "spark": {
                "mainApplicationFile": "/a.py",
                "conf": {"spark.shuffle.service.enabled": "true", "spark.master": "x"},
                "driver": {"resources": {"memory": "512Mi"}},
            },
        }
    )
    assert _fields(validate_step(spec, "spec.steps[s]")) == [
        'spec.steps[s].spark.conf["spark.master"]',
        'spec.steps[s].spark.conf["spark.shuffle.service.enabled"]',
        "spec.steps[s].spark.driver.resources.memory",
    ]
