"""A step's driver pod: Spark steps run through submit.sh, which is told where the attempt's log goes — the
place the step's status reports as failureDetails.logFile."""

from __future__ import annotations

from typing import Any

from golden_support import resolve_spec, small_spec

from kemr.api import EMRStepSpec
from kemr.builders.driver import build_driver_pod
from kemr.resolve import ResolvedCluster
from kemr.status.step import ClusterView, log_file

STEP = {"metadata": {"name": "totals", "uid": "0a1b2c3d-0000-4000-8000-000000000000"}}


def _driver(resolved: ResolvedCluster, step: dict[str, Any], attempt: int = 2) -> dict[str, Any]:
    spec = EMRStepSpec.model_validate({"clusterRef": {"name": "demo"}, **step})
    pod = build_driver_pod(resolved, STEP, spec, attempt, f"totals-attempt-{attempt}", None)
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {var["name"]: var.get("value") for var in container["env"]}


def _with_logs() -> ResolvedCluster:
    return resolve_spec(small_spec(logUri="s3://demo-logs/emr"))


PYSPARK = {"spark": {"mainApplicationFile": "s3a://demo/jobs/sales.py", "args": ["s3a://demo/out/"]}}


def test_spark_step_runs_spark_submit_through_submit_sh() -> None:
    command = _driver(_with_logs(), PYSPARK)["command"]
    assert command[:3] == ["bash", "/opt/kemr/scripts/submit.sh", "spark-submit"]
    assert command[-2:] == ["s3a://demo/jobs/sales.py", "s3a://demo/out/"]
    assert command[command.index("--deploy-mode") + 1] == "client"


def test_spark_sql_step_runs_spark_sql_through_submit_sh() -> None:
    command = _driver(_with_logs(), {"sparkSql": {"query": "SELECT 1"}})["command"]
    assert command[:3] == ["bash", "/opt/kemr/scripts/submit.sh", "spark-sql"]
    assert command[-2:] == ["-e", "SELECT 1"]


def test_driver_log_goes_where_the_status_reports_it() -> None:
    resolved = _with_logs()
    env = _env(_driver(resolved, PYSPARK, attempt=2))
    expected = log_file(ClusterView(exists=True, log_uri=resolved.log_uri), "totals", 2)
    assert env["KEMR_DRIVER_LOG_URI"] == expected
    assert expected == "s3a://demo-logs/emr/sales-6f1c2a4e/steps/totals/attempt-2/driver.log"
    assert env["KEMR_EVENT_LOG_DIR"] == "s3a://demo-logs/emr/sales-6f1c2a4e/spark-events"


def test_without_log_uri_the_driver_uploads_nothing() -> None:
    env = _env(_driver(resolve_spec(small_spec()), PYSPARK))
    assert "KEMR_DRIVER_LOG_URI" not in env
    assert "KEMR_EVENT_LOG_DIR" not in env


def test_failure_message_comes_from_the_termination_log_or_the_output() -> None:
    """submit.sh writes the exception to the termination log; without one Kubernetes uses the output's end."""
    assert _driver(_with_logs(), PYSPARK)["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_driver_heap_leaves_room_for_the_jvm_and_python_in_its_container() -> None:
    small = {"spark": {**PYSPARK["spark"], "driver": {"resources": {"cpu": "200m", "memory": "1Gi"}}}}
    large = {"spark": {**PYSPARK["spark"], "driver": {"resources": {"cpu": "2", "memory": "4Gi"}}}}
    assert "spark.driver.memory=640m" in _driver(_with_logs(), small)["command"]
    assert "spark.driver.memory=3277m" in _driver(_with_logs(), large)["command"]
    assert "spark.driver.cores=2" in _driver(_with_logs(), large)["command"]


def test_user_strings_are_escaped_for_the_kubelet_and_kemrs_own_references_are_not() -> None:
    """The kubelet expands `$(VAR)` and turns `$$` into `$` in command and args: a user's `$` is doubled so
    the program gets the string as written; kemr's own `$(KEMR_POD_IP)` must still expand."""
    step = {
        "spark": {
            "mainApplicationFile": "s3a://b/$(X).py",
            "args": ["$(HOME)", "a$$b", "${Y}"],
            "conf": {"spark.app.tag": "$(TAG)"},
        }
    }
    command = _driver(resolve_spec(small_spec()), step)["command"]
    assert command[-4:] == ["s3a://b/$$(X).py", "$$(HOME)", "a$$$$b", "$${Y}"]
    assert "spark.app.tag=$$(TAG)" in command
    assert "spark.driver.host=$(KEMR_POD_IP)" in command
    sql = _driver(resolve_spec(small_spec()), {"sparkSql": {"query": "SELECT '$(X)'"}})["command"]
    assert sql[-1] == "SELECT '$$(X)'"
    shell = _driver(resolve_spec(small_spec()), {"command": {"args": ["echo", "$(HOME)"]}})["command"]
    assert shell == ["echo", "$$(HOME)"]


def test_a_driver_out_of_heap_exits_instead_of_hanging() -> None:
    command = _driver(resolve_spec(small_spec()), PYSPARK)["command"]
    assert "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError" in command


# The exact command of each step type's driver: pinned, so that moving where a type's arguments come from
# (kemr.steptypes) can't reorder or re-escape them.
EXACT_COMMANDS: list[tuple[dict[str, Any], list[str]]] = [
    (
        {
            "spark": {
                "mainApplicationFile": "/app.jar",
                "mainClass": "a.B",
                "args": ["x", "$(Y)"],
                "conf": {"spark.b": "2", "spark.a": "$1"},
                "jars": ["/j1.jar", "/j2.jar"],
                "driver": {"resources": {"cpu": "2", "memory": "4Gi"}},
            }
        },
        [
            *["--class", "a.B", "--jars", "/j1.jar,/j2.jar"],
            *["--conf", "spark.driver.memory=3277m", "--conf", "spark.driver.cores=2"],
            *["--conf", "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError"],
            *["--conf", "spark.a=$$1", "--conf", "spark.b=2", "/app.jar", "x", "$$(Y)"],
        ],
    ),
    (
        {"spark": {"mainApplicationFile": "s3a://b/app.py", "pyFiles": ["s3a://b/l.zip", "s3a://b/m.py"]}},
        [
            *["--py-files", "s3a://b/l.zip,s3a://b/m.py"],
            *["--conf", "spark.driver.memory=3277m", "--conf", "spark.driver.cores=1"],
            *["--conf", "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError", "s3a://b/app.py"],
        ],
    ),
    (
        {"sparkSql": {"file": "s3a://b/q.sql"}},
        [
            *["--conf", "spark.driver.memory=3277m", "--conf", "spark.driver.cores=1"],
            *["--conf", "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError", "-f", "s3a://b/q.sql"],
        ],
    ),
    (
        {"sparkSql": {"query": "SELECT $1", "driver": {"resources": {"memory": "1Gi"}}}},
        [
            *["--conf", "spark.driver.memory=640m", "--conf", "spark.driver.cores=1"],
            *["--conf", "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError", "-e", "SELECT $$1"],
        ],
    ),
]


def test_each_step_type_has_its_exact_driver_command() -> None:
    resolved = resolve_spec(small_spec())
    client_mode = [
        *["--master", resolved.endpoints.master, "--deploy-mode", "client", "--name", "totals"],
        *["--conf", "spark.driver.host=$(KEMR_POD_IP)", "--conf", "spark.driver.bindAddress=0.0.0.0"],
    ]
    for step, after_client_mode in EXACT_COMMANDS:
        program = "spark-sql" if "sparkSql" in step else "spark-submit"
        expected = ["bash", "/opt/kemr/scripts/submit.sh", program, *client_mode, *after_client_mode]
        assert _driver(resolved, step)["command"] == expected, step
    command = _driver(resolved, {"command": {"args": ["bash", "-c", "echo $HOME"]}})["command"]
    assert command == ["bash", "-c", "echo $$HOME"]


def test_the_driver_pod_has_the_step_types_driver_resources() -> None:
    resolved = resolve_spec(small_spec())
    resources = {"cpu": "300m", "memory": "2Gi"}
    for body in (
        {"spark": {"mainApplicationFile": "/a.py", "driver": {"resources": resources}}},
        {"sparkSql": {"query": "SELECT 1", "driver": {"resources": resources}}},
        {"command": {"args": ["true"], "driver": {"resources": resources}}},
    ):
        container = _driver(resolved, body)
        assert container["resources"] == {"requests": resources, "limits": {"memory": "2Gi"}}, body
