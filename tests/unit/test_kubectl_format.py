"""`kubectl emr` output: ages as kubectl prints them, tables, describe views, the steps add-step creates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kemr.kubectl import format as fmt
from kemr.kubectl.stepspec import StepOptionError, StepOptions, build_step, parse_annotations

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (200, "3m20s"),
        (240, "4m"),
        (900, "15m"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (20 * 3600, "20h"),
        (2 * 86400 + 4 * 3600, "2d4h"),
        (400 * 86400, "400d"),
        (3 * 365 * 86400 + 86400, "3y1d"),
    ],
)
def test_age_reads_like_kubectl(seconds: int, shown: str) -> None:
    assert fmt.human_age(seconds) == shown


def _cluster(name: str, state: str | None, ns: str = "data") -> dict[str, Any]:
    status = (
        {
            "state": state,
            "readyGroups": "2/3",
            "steps": {"pending": 1, "running": 1, "completed": 3, "failed": 1, "cancelled": 0},
        }
        if state
        else None
    )
    return {
        "kind": "EMRCluster",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-11-22T11:55:00Z"},
        "spec": {"release": "kemr-1.0"},
        "status": status,
    }


def test_cluster_table_columns_line_up() -> None:
    out = fmt.cluster_table([_cluster("etl", "RUNNING"), _cluster("new", None)], NOW, all_namespaces=False)
    assert out.splitlines() == [
        "NAME   STATE     READY GROUPS   STEPS                          AGE",
        "etl    RUNNING   2/3            1 running, 1 pending, 4 done   5m",
        "new    <none>    <none>         0 running, 0 pending, 0 done   5m",
    ]


def test_all_namespaces_adds_the_namespace_column() -> None:
    out = fmt.cluster_table([_cluster("etl", "WAITING", ns="team-a")], NOW, all_namespaces=True)
    assert out.splitlines()[0].startswith("NAMESPACE   NAME")
    assert out.splitlines()[1].startswith("team-a      etl")


def test_colour_only_on_the_state_and_columns_still_line_up() -> None:
    plain = fmt.cluster_table([_cluster("etl", "WAITING")], NOW, False)
    coloured = fmt.cluster_table([_cluster("etl", "WAITING")], NOW, False, paint=fmt.colour_state)
    assert "etl    \x1b[32mWAITING\x1b[0m   2/3" in coloured
    assert coloured.replace("\x1b[32m", "").replace("\x1b[0m", "") == plain
    assert "\x1b" not in plain


def _step(name: str, state: str, **status: Any) -> dict[str, Any]:
    return {
        "kind": "EMRStep",
        "metadata": {"name": name, "namespace": "data", "creationTimestamp": "2026-11-22T11:59:00Z"},
        "spec": {"clusterRef": {"name": "etl"}, "spark": {"mainApplicationFile": "s3://b/j.py"}},
        "status": {"state": state, **status},
    }


FAILED = _step(
    "daily",
    "FAILED",
    attempts=[
        {"number": 1, "driverPod": "daily-attempt-1", "outcome": "FAILED", "exitCode": 1},
    ],
    attemptCount=1,
    stateChangeReason={"code": "STEP_FAILURE", "message": "Driver exited with code 1 after 1 attempt(s)"},
    failureDetails={"reason": "STEP_FAILURE", "message": "Traceback: boom", "logFile": "s3://logs/daily.log"},
    timeline={
        "created": "2026-11-22T11:59:00Z",
        "started": "2026-11-22T11:59:01Z",
        "ended": "2026-11-22T11:59:30Z",
    },
)


def test_step_table() -> None:
    out = fmt.step_table([FAILED, _step("next", "PENDING")], NOW, all_namespaces=False)
    assert out.splitlines() == [
        "NAME    CLUSTER   STATE     ATTEMPTS   REASON         AGE",
        "daily   etl       FAILED    1          STEP_FAILURE   60s",
        "next    etl       PENDING   0          <none>         60s",
    ]


def test_describe_step_shows_failure_attempts_and_a_timeline_with_events() -> None:
    warning = {
        "type": "Warning",
        "reason": "Failed",
        "message": "RUNNING → FAILED",
        "lastTimestamp": "2026-11-22T11:59:30Z",
    }
    out = fmt.describe_step(FAILED, [warning], NOW)
    assert "Failure:      STEP_FAILURE: Traceback: boom (log: s3://logs/daily.log)" in out
    assert "  1         daily-attempt-1   FAILED    1" in out
    timeline = out.split("Timeline:\n")[1].splitlines()
    assert timeline == [
        "  2026-11-22T11:59:00Z  Created",
        "  2026-11-22T11:59:01Z  Started",
        "  2026-11-22T11:59:30Z  Ended",
        "  2026-11-22T11:59:30Z  Warning Failed: RUNNING → FAILED",
    ]


def test_describe_cluster_lists_its_steps_with_failure_details() -> None:
    cluster = _cluster("etl", "WAITING")
    cluster["status"]["stateChangeReason"] = {"message": "Cluster ready"}
    cluster["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "ClusterReady",
            "lastTransitionTime": "2026-11-22T11:56:00Z",
        }
    ]
    out = fmt.describe_cluster(cluster, [FAILED], [], NOW)
    assert "State:        WAITING" in out
    assert "Reason:       Cluster ready" in out
    assert "  Ready   True     ClusterReady   4m" in out
    assert "  daily failed: STEP_FAILURE: Traceback: boom (log: s3://logs/daily.log)" in out


def test_describe_cluster_shows_where_its_hive_tables_are_defined() -> None:
    cluster = _cluster("etl", "WAITING")
    cluster["spec"] = {"applications": ["Spark", "Hive"], "catalog": {"name": "analytics"}}
    out = fmt.describe_cluster(cluster, [], [], NOW)
    assert "Applications: Spark, Hive" in out
    assert "Catalog:      DataCatalog analytics (kubectl get datacatalog analytics)" in out
    cluster["spec"] = {"applications": ["Spark", "Hive"]}
    assert "the cluster's own metastore" in fmt.describe_cluster(cluster, [], [], NOW)


def test_pyspark_step_with_args_and_driver_annotations() -> None:
    step = build_step(
        StepOptions(
            cluster="etl",
            name="daily",
            type="pyspark",
            file="s3://b/jobs/daily.py",
            args=["--day", "2026-11-22"],
            action_on_failure="CANCEL_AND_WAIT",
            max_attempts=3,
            annotations={"team": "data"},
        )
    )
    assert step == {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "EMRStep",
        "metadata": {"name": "daily"},
        "spec": {
            "clusterRef": {"name": "etl"},
            "spark": {"mainApplicationFile": "s3://b/jobs/daily.py", "args": ["--day", "2026-11-22"]},
            "actionOnFailure": "CANCEL_AND_WAIT",
            "retry": {"maxAttempts": 3},
            "podOverrides": {"metadata": {"annotations": {"team": "data"}}},
        },
    }


def test_spark_jar_sql_and_command_steps() -> None:
    jar = build_step(
        StepOptions("etl", "pi", "spark", file="/opt/spark/examples.jar", main_class="a.SparkPi")
    )
    assert jar["spec"]["spark"] == {
        "mainApplicationFile": "/opt/spark/examples.jar",
        "mainClass": "a.SparkPi",
    }
    sql = build_step(StepOptions("etl", "q", "sql", query="SELECT 1"))
    assert sql["spec"]["sparkSql"] == {"query": "SELECT 1"}
    command = build_step(StepOptions("etl", "ls", "command", args=["hdfs", "dfs", "-ls", "/"]))
    assert command["spec"]["command"] == {"args": ["hdfs", "dfs", "-ls", "/"]}


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (StepOptions("etl", "s", "pyspark"), "--type pyspark needs --file"),
        (StepOptions("etl", "s", "pyspark", file="s3://b/app.jar"), "use --type spark for a JAR"),
        (StepOptions("etl", "s", "sql"), "exactly one of --query"),
        (StepOptions("etl", "s", "sql", query="SELECT 1", file="s3://b/q.sql"), "exactly one of --query"),
        (StepOptions("etl", "s", "command"), "needs the command after --"),
        (StepOptions("etl", "s", "pig"), "--type must be one of"),
    ],
)
def test_options_that_make_no_step_name_the_fix(options: StepOptions, says: str) -> None:
    with pytest.raises(StepOptionError, match=says):
        build_step(options)


def test_annotations_are_key_value() -> None:
    assert parse_annotations(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(StepOptionError, match="KEY=VALUE"):
        parse_annotations(["novalue"])
