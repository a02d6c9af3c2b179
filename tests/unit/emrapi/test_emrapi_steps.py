"""StepConfig → EMRStep, and EMRStep → EMR's Step."""

from __future__ import annotations

from typing import Any

import pytest
from emrapi_support import NAMESPACE, created

from kemr.api import EMRStepSpec
from kemr.api.quantity import driver_heap_mib, memory_mib
from kemr.emrapi.errors import InvalidRequestException, ValidationException
from kemr.emrapi.translate import describe_step, step_from_config, step_id, step_summary
from kemr.emrapi.translate.commands import driver_memory


def build(args: list[str], jar: str = "command-runner.jar", **fields: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"Name": "My step", "HadoopJarStep": {"Jar": jar, "Args": args}}
    config["HadoopJarStep"].update(fields.pop("jar_step", {}))
    config.update(fields)
    manifest = step_from_config(config, cluster_name="sales", namespace=NAMESPACE, field="Steps[0]")
    EMRStepSpec.model_validate(manifest["spec"])
    return manifest


def body(args: list[str], **fields: Any) -> dict[str, Any]:
    spec = build(args, **fields)["spec"]
    return {k: v for k, v in spec.items() if k not in ("clusterRef", "actionOnFailure")}


def test_spark_submit_options() -> None:
    spark = body(
        [
            "spark-submit",
            "--deploy-mode=cluster",
            "--class",
            "org.example.Main",
            "--conf",
            "spark.sql.adaptive.enabled=true",
            "--jars",
            "s3n://b/a.jar,s3://b/b.jar",
            "--packages",
            "org.x:y:1",
            "--num-executors",
            "4",
            "--driver-cores",
            "2",
            "--name",
            "job",
            "s3://b/app.jar",
            "--in",
            "s3://b/in",
        ]
    )["spark"]
    assert spark == {
        "mainClass": "org.example.Main",
        "jars": ["s3://b/a.jar", "s3://b/b.jar"],
        "mainApplicationFile": "s3://b/app.jar",
        "args": ["--in", "s3://b/in"],
        "conf": {
            "spark.sql.adaptive.enabled": "true",
            "spark.jars.packages": "org.x:y:1",
            "spark.executor.instances": "4",
            "spark.app.name": "job",
        },
        "driver": {"resources": {"cpu": "2"}},
    }


@pytest.mark.parametrize("requested", ["512m", "1g", "2g", "4g", "4096", "16g", "3000m"])
def test_driver_memory_fits_the_requested_heap(requested: str) -> None:
    container = memory_mib(driver_memory(requested, "f"))
    heap = {"512m": 512, "1g": 1024, "2g": 2048, "4g": 4096, "4096": 4096, "16g": 16384, "3000m": 3000}[
        requested
    ]
    assert driver_heap_mib(container) >= heap
    assert container <= max(heap * 1.25 + 1, heap + 384, 1218)  # no more than the heap and its overhead


def test_spark_sql_hive_trino_and_command() -> None:
    assert body(["spark-sql", "-e", "SELECT 1"]) == {"sparkSql": {"query": "SELECT 1"}}
    assert body(["spark-sql", "-f", "s3://b/q.sql"]) == {"sparkSql": {"file": "s3://b/q.sql"}}
    assert body(["hive", "-e", "SHOW TABLES", "--hivevar", "X=1"]) == {
        "hive": {"query": "SHOW TABLES", "variables": {"X": "1"}}
    }
    assert body(["trino-cli", "--execute", "SELECT 1", "--catalog", "tpch", "--session", "a=b"]) == {
        "trino": {"query": "SELECT 1", "catalog": "tpch", "sessionProperties": {"a": "b"}}
    }
    assert body(["bash", "-c", "echo hi"]) == {"command": {"args": ["bash", "-c", "echo hi"]}}


def test_custom_jar_runs_its_main_class_with_spark() -> None:
    spark = body(
        ["in", "out"],
        jar="s3://b/wordcount.jar",
        jar_step={"MainClass": "org.WordCount", "Properties": [{"Key": "k", "Value": "v"}]},
    )["spark"]
    assert spark == {
        "mainApplicationFile": "s3://b/wordcount.jar",
        "mainClass": "org.WordCount",
        "args": ["in", "out"],
        "conf": {"spark.driver.extraJavaOptions": "-Dk=v"},
    }


def test_manifest_metadata_and_action_on_failure() -> None:
    manifest = build(["ls"], ActionOnFailure="TERMINATE_JOB_FLOW")
    assert manifest["metadata"]["generateName"] == "sales-my-step-"
    assert manifest["metadata"]["annotations"]["kemr.io/emr-name"] == "My step"
    assert manifest["spec"]["actionOnFailure"] == "TERMINATE_CLUSTER"
    assert manifest["spec"]["clusterRef"] == {"name": "sales"}
    assert build(["ls"])["spec"]["actionOnFailure"] == "TERMINATE_CLUSTER"  # EMR's default
    long = step_from_config(
        {"Name": "x" * 100, "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["ls"]}},
        cluster_name="c" * 30,
        namespace=NAMESPACE,
        field="Steps[0]",
    )
    assert len(long["metadata"]["generateName"]) + 5 <= 52


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], r"^Steps\[0\]\.HadoopJarStep\.Args: command-runner.jar needs a command"),
        (
            ["spark-submit", "--class", "A"],
            r"^Steps\[0\]\.HadoopJarStep\.Args: spark-submit needs an application",
        ),
        (
            ["spark-submit", "--proxy-user", "x", "a.py"],
            r"^Steps\[0\]\.HadoopJarStep\.Args\[1\]: spark-submit option",
        ),
        (["spark-submit", "app.py"], r"^Steps\[0\]\.HadoopJarStep\.Args\[1\]: the application must be"),
        (
            ["spark-submit", "--conf", "novalue", "/a.py"],
            r"^Steps\[0\]\.HadoopJarStep\.Args\[1\]: --conf expects",
        ),
        (["spark-submit", "--class", "A", "/a.py"], r"--class is for JAR applications"),
        (["spark-sql", "--hiveconf", "a=b", "-e", "x"], r"^Steps\[0\]\.HadoopJarStep\.Args\[1\]"),
        (["hive-script", "--run-hive-script", "--args", "-d", "X=1"], r"needs -f FILE or -e QUERY"),
        (["trino-cli", "--file", "/local.sql"], r"must be an s3:// object"),
    ],
)
def test_bad_commands_name_the_argument(args: list[str], message: str) -> None:
    with pytest.raises(ValidationException, match=message):
        build(args)


def test_script_runner_and_missing_fields() -> None:
    with pytest.raises(InvalidRequestException, match=r"^Steps\[0\]\.HadoopJarStep\.Jar: script-runner"):
        build(["s3://b/x.sh"], jar="s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar")
    with pytest.raises(ValidationException, match=r"^Steps\[0\]\.ActionOnFailure"):
        build(["ls"], ActionOnFailure="EXPLODE")
    with pytest.raises(ValidationException, match=r"^Steps\[0\]\.HadoopJarStep: required"):
        step_from_config({"Name": "x"}, cluster_name="sales", namespace=NAMESPACE, field="Steps[0]")


def test_describe_step_reports_the_config_as_sent() -> None:
    manifest = build(["spark-submit", "--deploy-mode", "cluster", "/opt/app.py"], jar_step={"Properties": []})
    step = created(
        manifest,
        "sales-my-step-x1y2z",
        uid="u1",
        state="FAILED",
        stateChangeReason={"code": "STEP_FAILURE", "message": "exit code 1"},
        failureDetails={"reason": "STEP_FAILURE", "message": "Traceback...", "logFile": "s3://logs/x"},
        timeline={
            "created": "2026-01-02T03:04:06Z",
            "started": "2026-01-02T03:05:00Z",
            "ended": "2026-01-02T03:06:00.5Z",
        },
    )
    described = describe_step(step)
    assert described == {
        "Id": step_id("u1"),
        "Name": "My step",
        "Config": {
            "Jar": "command-runner.jar",
            "Properties": {},
            "Args": ["spark-submit", "--deploy-mode", "cluster", "/opt/app.py"],
        },
        "ActionOnFailure": "TERMINATE_CLUSTER",
        "Status": {
            "State": "FAILED",
            "StateChangeReason": {"Code": "NONE", "Message": "STEP_FAILURE: exit code 1"},
            "FailureDetails": {"Reason": "STEP_FAILURE", "Message": "Traceback...", "LogFile": "s3://logs/x"},
            "Timeline": {
                "CreationDateTime": 1767323046.0,
                "StartDateTime": 1767323100.0,
                "EndDateTime": 1767323160.5,
            },
        },
    }
    assert step_summary(step) == described


def test_describe_step_made_with_kubectl() -> None:
    step = {
        "metadata": {"name": "pi", "uid": "u2", "creationTimestamp": "2026-01-02T03:04:05Z"},
        "spec": {
            "clusterRef": {"name": "basic"},
            "spark": {"mainApplicationFile": "/opt/pi.py", "args": ["10"], "conf": {"spark.cores.max": "2"}},
        },
    }
    described = describe_step(step)
    assert described["Name"] == "pi"
    assert described["ActionOnFailure"] == "CONTINUE"
    assert described["Config"]["Args"] == [
        "spark-submit",
        "--deploy-mode",
        "client",
        "--conf",
        "spark.cores.max=2",
        "/opt/pi.py",
        "10",
    ]
    assert described["Status"] == {
        "State": "PENDING",
        "StateChangeReason": {},
        "Timeline": {"CreationDateTime": 1767323045.0},
    }
