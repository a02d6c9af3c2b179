"""submit.sh, the drivers' entrypoint, run for real with bash: fake `spark-submit` and `hadoop` stand in for
the image's, so what a user relies on is checked without a cluster — the driver log reaches `logUri` whether
the job succeeds or fails, the exit code is the job's, and a failure's message is the exception that
ended it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kemr.api.constants import SPARK_APPLICATION_ID_PATTERN, SPARK_APPLICATION_ID_PREFIX
from kemr.builders.render import render
from kemr.status.step import split_termination_message
from kemr.steptypes import SPARK_PROGRAMS

LOG_URI = "s3a://logs/demo-6f1c2a4e/steps/sales/attempt-1/driver.log"

# `hadoop fs -mkdir -p DIR...` records the directories; `hadoop fs -put -f SRC DST` copies SRC to
# $FAKE_S3/<DST without scheme> and, as the real one, refuses a DST whose parent wasn't made.
FAKE_HADOOP = """#!/usr/bin/env bash
set -eu
[ "$1" = fs ] || exit 64
case "$2" in
  -mkdir) shift 3; printf '%s\\n' "$@" >>"$FAKE_S3/mkdirs" ;;
  -put)
    grep -qxF "$(dirname "$5")" "$FAKE_S3/mkdirs" || { echo "put: $5: No such file" >&2; exit 1; }
    dst="$FAKE_S3/${5#*://}"; mkdir -p "$(dirname "$dst")"; cp "$4" "$dst" ;;
  *) exit 64 ;;
esac
"""

PYTHON_TRACEBACK = """\
25/11/22 07:00:01 INFO SparkContext: Running Spark version 3.5.9
Traceback (most recent call last):
  File "/tmp/job.py", line 3, in <module>
    main()
25/11/22 07:00:02 INFO ShutdownHookManager: Shutdown hook called
  File "/tmp/job.py", line 2, in main
    raise ValueError("no orders in s3a://demo/input/")
ValueError: no orders in s3a://demo/input/
25/11/22 07:00:02 INFO ShutdownHookManager: Deleting directory /tmp/spark-1
"""

CHAINED_TRACEBACK = """\
Traceback (most recent call last):
  File "/tmp/job.py", line 3, in <module>
KeyError: 'amount'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/tmp/job.py", line 5, in <module>
RuntimeError: column amount is missing
"""

PY4J_TRACEBACK = """\
Traceback (most recent call last):
  File "/tmp/job.py", line 9, in <module>
    df.write.csv(out)
py4j.protocol.Py4JJavaError: An error occurred while calling o52.csv.
: java.nio.file.AccessDeniedException: s3a://demo/out: 403 Forbidden
\tat org.apache.hadoop.fs.s3a.S3AUtils.translateException(S3AUtils.java:255)
"""

SPARK_SQL_SYNTAX_ERROR = """\
25/11/30 07:00:01 INFO HiveConf: Found configuration file file:/etc/kemr/conf/spark/hive-site.xml

[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'.(line 1, pos 0)

== SQL ==
SELEC customer_id FROM orders
^^^
"""
JAVA_FAILURE = """\
25/11/22 07:00:01 INFO SparkContext: Running Spark version 3.5.9
Exception in thread "main" java.lang.IllegalArgumentException: wrong number of arguments
\tat com.example.Main.main(Main.scala:10)
"""


@pytest.fixture
def driver(tmp_path: Path) -> Path:
    """A driver's filesystem: scripts dir with submit.sh and common.sh, fake SPARK_HOME and HADOOP_HOME."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "submit.sh").write_text(
        render(
            "submit.sh.j2",
            scripts_dir=str(scripts),
            spark_programs=SPARK_PROGRAMS,
            application_id_prefix=SPARK_APPLICATION_ID_PREFIX,
            application_id_pattern=SPARK_APPLICATION_ID_PATTERN,
        )
    )
    (scripts / "common.sh").write_text(": # the real one makes directories and sources bootstrap output\n")
    for home, tool in (("spark", "spark-submit"), ("spark", "spark-sql"), ("hadoop", "hadoop")):
        path = tmp_path / home / "bin" / tool
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FAKE_HADOOP if tool == "hadoop" else _fake_spark())
        path.chmod(0o755)
    (tmp_path / "s3").mkdir()
    return tmp_path


def _fake_spark() -> str:
    """Records its arguments, prints $FAKE_OUTPUT's file, then sleeps $FAKE_SLEEP or exits with $FAKE_EXIT."""
    return """#!/usr/bin/env bash
printf '%s\\n' "$@" >"$FAKE_S3/args"
cat "$FAKE_OUTPUT" >&2
echo "a line on stdout"
[ -z "${FAKE_SLEEP:-}" ] || exec sleep "$FAKE_SLEEP"  # as spark-class execs the JVM: the signal reaches it
exit "${FAKE_EXIT:-0}"
"""


def _env(root: Path, output: str, exit_code: int, **extra: str) -> dict[str, str]:
    (root / "output.txt").write_text(output)
    return {
        "PATH": os.environ["PATH"],
        "SPARK_HOME": str(root / "spark"),
        "HADOOP_HOME": str(root / "hadoop"),
        "FAKE_S3": str(root / "s3"),
        "FAKE_OUTPUT": str(root / "output.txt"),
        "FAKE_EXIT": str(exit_code),
        "KEMR_DRIVER_LOG": str(root / "tmp" / "driver.log"),
        "KEMR_TERMINATION_LOG": str(root / "termination-log"),
        "KEMR_DRIVER_LOG_URI": LOG_URI,
        "KEMR_EVENT_LOG_DIR": "s3a://logs/demo-6f1c2a4e/spark-events",
        **extra,
    }


def _submit(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(root / "scripts" / "submit.sh"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)


def _uploaded_log(root: Path) -> str:
    return (root / "s3" / LOG_URI.removeprefix("s3a://")).read_text()


def _termination_message(root: Path) -> str | None:
    path = root / "termination-log"
    return path.read_text() if path.exists() else None


def test_successful_job_keeps_exit_code_zero_and_uploads_its_log(driver: Path) -> None:
    env = _env(driver, "25/11/22 07:00:01 INFO all good\n", 0)
    done = _submit(driver, env, "spark-submit", "job.py", "x y")
    assert done.returncode == 0, done.stdout
    log = _uploaded_log(driver)
    assert "INFO all good" in log
    assert "a line on stdout" in log
    assert "spark-submit exited with code 0" in log
    assert "INFO all good" in done.stdout, "the container's output still shows the driver's output"
    assert (driver / "s3" / "args").read_text().splitlines() == ["job.py", "x y"]
    assert (driver / "s3" / "mkdirs").read_text().splitlines() == [
        "s3a://logs/demo-6f1c2a4e/spark-events",
        "s3a://logs/demo-6f1c2a4e/steps/sales/attempt-1",
    ]
    assert _termination_message(driver) is None


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (PYTHON_TRACEBACK, "ValueError: no orders in s3a://demo/input/\n"),
        (CHAINED_TRACEBACK, "RuntimeError: column amount is missing\n"),
        (
            PY4J_TRACEBACK,
            "py4j.protocol.Py4JJavaError: An error occurred while calling o52.csv.\n"
            "java.nio.file.AccessDeniedException: s3a://demo/out: 403 Forbidden\n",
        ),
        (JAVA_FAILURE, "java.lang.IllegalArgumentException: wrong number of arguments\n"),
        (SPARK_SQL_SYNTAX_ERROR, "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'.(line 1, pos 0)\n"),
    ],
    ids=["python", "chained-python", "py4j", "java", "spark-sql"],
)
def test_failed_job_reports_its_exception_and_still_uploads_its_log(
    driver: Path, output: str, message: str
) -> None:
    done = _submit(driver, _env(driver, output, 3), "spark-submit", "job.py")
    assert done.returncode == 3
    assert _termination_message(driver) == message
    assert output.splitlines()[1] in _uploaded_log(driver)


def test_failure_without_an_exception_leaves_the_message_to_kubernetes(driver: Path) -> None:
    """No termination message: with FallbackToLogsOnError Kubernetes then reports the output's last lines."""
    done = _submit(driver, _env(driver, "Error: Missing application resource.\n", 1), "spark-submit")
    assert done.returncode == 1
    assert _termination_message(driver) is None
    assert "Missing application resource" in _uploaded_log(driver)


CONNECTED = (
    "26/12/01 11:00:02 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID "
    "app-20261201110002-0003\n"
)


def test_the_application_id_heads_the_termination_message(driver: Path) -> None:
    done = _submit(
        driver, _env(driver, CONNECTED + "26/12/01 11:00:09 INFO done\n", 0), "spark-submit", "j.py"
    )
    assert done.returncode == 0
    assert _termination_message(driver) == f"{SPARK_APPLICATION_ID_PREFIX}app-20261201110002-0003\n"
    assert split_termination_message(_termination_message(driver)) == ("app-20261201110002-0003", None)


def test_a_failed_application_names_its_id_then_its_exception(driver: Path) -> None:
    done = _submit(driver, _env(driver, CONNECTED + PYTHON_TRACEBACK, 3), "spark-submit", "job.py")
    assert done.returncode == 3
    assert split_termination_message(_termination_message(driver)) == (
        "app-20261201110002-0003",
        "ValueError: no orders in s3a://demo/input/",
    )


def test_a_failed_application_without_an_exception_keeps_its_output_tail(driver: Path) -> None:
    """What FallbackToLogsOnError would have given, since the id line makes the message non-empty."""
    output = CONNECTED + "Error: the last words\n"
    done = _submit(driver, _env(driver, output, 1), "spark-submit", "job.py")
    application_id, rest = split_termination_message(_termination_message(driver))
    assert done.returncode == 1
    assert application_id == "app-20261201110002-0003"
    assert rest is not None
    assert "Error: the last words" in rest


def test_spark_sql_steps_run_through_the_same_script(driver: Path) -> None:
    done = _submit(driver, _env(driver, "", 0), "spark-sql", "-e", "SELECT 1")
    assert done.returncode == 0
    assert (driver / "s3" / "args").read_text().splitlines() == ["-e", "SELECT 1"]


def test_other_programs_are_refused(driver: Path) -> None:
    done = _submit(driver, _env(driver, "", 0), "rm", "-rf", "/")
    assert done.returncode == 2
    assert "runs spark-submit or spark-sql" in done.stdout + done.stderr


def test_without_log_uri_nothing_is_uploaded(driver: Path) -> None:
    env = _env(driver, "", 0)
    del env["KEMR_DRIVER_LOG_URI"], env["KEMR_EVENT_LOG_DIR"]
    done = _submit(driver, env, "spark-submit", "job.py")
    assert done.returncode == 0
    assert sorted(p.name for p in (driver / "s3").iterdir()) == ["args"]


def test_sigterm_stops_the_job_and_the_log_is_still_uploaded(driver: Path) -> None:
    """A cancelled step's pod is deleted: the job gets SIGTERM, its log still reaches S3."""
    env = _env(driver, "25/11/22 07:00:01 INFO working\n", 0, FAKE_SLEEP="30")
    command = ["bash", str(driver / "scripts" / "submit.sh"), "spark-submit", "job.py"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        deadline = time.monotonic() + 10
        while not (driver / "s3" / "args").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 128 + signal.SIGTERM
    assert "INFO working" in _uploaded_log(driver)


def test_the_programs_own_termination_message_is_kept_after_the_id_line(driver: Path) -> None:
    (driver / "termination-log").write_text("my own words\n")
    done = _submit(driver, _env(driver, CONNECTED + "Error: the last words\n", 4), "spark-submit", "job.py")
    assert done.returncode == 4
    assert split_termination_message(_termination_message(driver)) == (
        "app-20261201110002-0003",
        "my own words",
    )


def test_the_programs_own_message_is_left_untouched_without_an_id(driver: Path) -> None:
    (driver / "termination-log").write_text("exactly this")
    done = _submit(driver, _env(driver, "no id here\n", 0), "spark-submit", "job.py")
    assert done.returncode == 0
    assert _termination_message(driver) == "exactly this"
