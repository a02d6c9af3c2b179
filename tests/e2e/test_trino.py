"""Trino on the real node (issue 16): a cluster with Spark, Hive and Trino; a Hive step (Spark SQL) writes a
Parquet table over S3 data; Trino returns the same per-customer totals, exactly, through (a) a `trino` step
writing CSV to S3 and (b) the `trino` Python client (PyPI) through the master's Service; a syntax error fails
a step with Trino's message and query id; scaling the task group in drains its Trino worker without failing
the query running on it; a worker lost at once (a spot loss) doesn't wedge the coordinator.

Timings (the coordinator's start, the query's latency) and each Trino container's memory are printed for
the closing note.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trino
from minio import Minio

from support import emr
from support.kube import Kube, wait_until
from support.operator import OperatorProcess
from support.s3 import LocalS3, put_bytes, read_bytes
from support.walkthrough import create_s3_secret, expected_totals, s3_spec, walkthrough_rows

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "lakehouse"
CLUSTER_TIMEOUT_S = 600
STEP_TIMEOUT_S = 420
IMAGE_TIMEOUT_S = 2400  # a cold build of the Trino image: a Debian base, Java, ~480 MB from Maven Central

pytestmark = pytest.mark.timeout(IMAGE_TIMEOUT_S + CLUSTER_TIMEOUT_S + 6 * STEP_TIMEOUT_S)

# Spark SQL (a `hive` step) makes the table Trino reads: the demo's orders, amounts as DECIMAL, in Parquet.
MAKE_TABLE = """CREATE EXTERNAL TABLE orders_csv(order_id STRING, customer_id STRING, amount STRING,
  status STRING, order_date STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION '${INPUT}';
CREATE TABLE orders STORED AS PARQUET LOCATION '${TABLE}' AS
SELECT order_id, customer_id, CAST(amount AS DECIMAL(10,2)) AS amount, status, order_date FROM orders_csv;"""
TOTALS = """SELECT customer_id, SUM(amount) AS total_sales FROM orders WHERE status = 'completed'
GROUP BY customer_id ORDER BY customer_id"""
# Long enough to be running while its task worker is removed: TPC-H's generator on the workers' CPUs.
LONG_QUERY = "SELECT count(*), sum(quantity) FROM tpch.sf1.lineitem WHERE discount > 0.01"
DRIVER = {"resources": {"cpu": "100m", "memory": "512Mi"}}
TRINO_CONTAINERS = ("trino-coordinator", "trino-worker")
# A container's memory use, bytes: cgroup v2's file, else v1's (the local real node runs v1).
CGROUP_MEMORY = (
    "cat /sys/fs/cgroup/memory.current 2>/dev/null || cat /sys/fs/cgroup/memory/memory.usage_in_bytes"
)


@dataclass
class TrinoRun:
    namespace: str
    bucket: str
    client: Minio
    rows: list[list[str]]
    cluster: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_totals: dict[str, Decimal] = field(default_factory=dict)
    client_latency_s: float = 0.0
    coordinator_start_s: float = 0.0
    drain: dict[str, Any] = field(default_factory=dict)
    after_loss: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="session")
def trino_image(real_node: str) -> None:
    """The Trino image in the real node's containerd: built if its inputs changed (images/build.sh keeps
    the archive), then imported (cheap when already there)."""
    del real_node
    for script in ("build.sh", "import.sh"):
        done = subprocess.run(
            [REPO / "images" / script, "trino"],
            capture_output=True,
            text=True,
            check=False,
            timeout=IMAGE_TIMEOUT_S,
        )
        if done.returncode != 0:
            pytest.fail(f"images/{script} trino failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def trino_cluster() -> dict[str, Any]:
    """Spark, Hive (the cluster's own metastore) and Trino, sized for the real node's 2 CPUs: the master's
    3Gi is a quarter metastore, then half the rest each for the Trino coordinator and the Spark master; a core
    and a task pod of 3Gi, half Trino worker, half Spark worker."""
    group = {"resources": {"cpu": "200m", "memory": "3Gi"}}
    cluster = emr.small_real_cluster(
        CLUSTER,
        applications=["Spark", "Hive", "Trino"],
        master={"resources": {"cpu": "300m", "memory": "3Gi"}, "storage": {"size": "1Gi"}},
        s3=s3_spec(),
        taskGroups=[{"name": "spot", "minReplicas": 0, "maxReplicas": 1, "replicas": 1, **group}],
    )
    cluster["spec"]["coreGroups"][0].update(group)
    return cluster


def step(name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "EMRStep",
        "metadata": {"name": name},
        "spec": {"clusterRef": {"name": CLUSTER}, "actionOnFailure": "CONTINUE", **body},
    }


def _run_step(kube: Kube, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    kube.apply(manifest, namespace=namespace)
    name = manifest["metadata"]["name"]

    def ended() -> dict[str, Any] | None:
        obj: dict[str, Any] = kube.get("emrstep", "-n", namespace, name)
        state = (obj.get("status") or {}).get("state")
        return obj if state in ("COMPLETED", "FAILED", "CANCELLED") else None

    try:
        return wait_until(ended, STEP_TIMEOUT_S, f"EMRStep {name} to end", 3)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{emr.diagnose(kube, namespace)}") from None


def _service_ip(kube: Kube, namespace: str) -> str:
    ip: str = kube.get("service", "-n", namespace, f"{CLUSTER}-master")["spec"]["clusterIP"]
    return ip


def _connect(host: str, max_run_time: str) -> Any:
    return trino.dbapi.connect(  # type: ignore[no-untyped-call]
        host=host,
        port=8889,
        user="kemr-test",
        catalog="hive",
        schema="default",
        session_properties={"query_max_run_time": max_run_time},
    )


def _query(host: str, sql: str, max_run_time: str = "5m") -> list[list[Any]]:
    """`sql`'s rows; Trino ends the query (an error) after `max_run_time`: no probe hangs."""
    cursor = _connect(host, max_run_time).cursor()
    cursor.execute(sql)
    rows: list[list[Any]] = cursor.fetchall()
    return rows


def _trino_memory(kube: Kube, namespace: str) -> list[str]:
    """Each Trino container's memory limit (its request too), heap, and use: its cgroup's (the local
    cluster serves no metrics API)."""
    lines = []
    for pod in kube.items("pods", "-n", namespace, "-l", f"kemr.io/cluster={CLUSTER}"):
        name = pod["metadata"]["name"]
        for c in pod["spec"]["containers"]:
            if c["name"] in TRINO_CONTAINERS:
                limit = c["resources"]["limits"]["memory"]
                heap = next((e["value"] for e in c.get("env", []) if e["name"] == "TRINO_HEAP_MB"), "?")
                read = [
                    "exec",
                    "-n",
                    namespace,
                    name,
                    "-c",
                    c["name"],
                    "--",
                    "sh",
                    "-c",
                    CGROUP_MEMORY,
                ]
                done = kube.run(*read, check=False)
                used = f"{int(done.stdout) // 2**20}Mi" if done.returncode == 0 else done.stderr.strip()[:80]
                lines.append(f"{name}/{c['name']}: limit {limit}, heap {heap}Mi, using {used}")
    return lines


def _long_query_while_scaling_in(kube: Kube, namespace: str, host: str) -> dict[str, Any]:
    """LONG_QUERY in a thread; once it runs on the workers, the task group is scaled to 0 and its pod
    (a worker with tasks of the query) goes through its preStop drain. The query must succeed."""
    result: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            result["rows"] = _query(host, LONG_QUERY)
        except Exception as err:  # the assertion reports it
            result["error"] = f"{type(err).__name__}: {err}"
        result["seconds"] = time.monotonic() - started
        result["ended_at"] = time.time()

    [task_pod] = kube.items("pods", "-n", namespace, "-l", f"kemr.io/cluster={CLUSTER},kemr.io/role=task")
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    # The task worker (node.id: its pod's name) runs tasks of the query when the scale-in begins.
    result["tasks_on_task_worker"] = wait_until(
        lambda: _running_tasks_on(host, task_pod["metadata"]["name"]) or None,
        60,
        "tasks on the task worker",
        0.5,
    )
    result["scaled_in_at"] = time.time()
    patch = '[{"op": "replace", "path": "/spec/taskGroups/0/replicas", "value": 0}]'
    kube.run("patch", "emrcluster", "-n", namespace, CLUSTER, "--type", "json", "-p", patch)
    thread.join(STEP_TIMEOUT_S)
    result["task_pod"] = task_pod["metadata"]["name"]
    wait_until(
        lambda: (
            not kube.items("pods", "-n", namespace, "-l", f"kemr.io/cluster={CLUSTER},kemr.io/role=task")
            or None
        ),
        STEP_TIMEOUT_S,
        "the task pod gone",
        2,
    )
    result["pod_gone_s"] = time.time() - result["scaled_in_at"]
    # The same query on the core worker alone; the tries that failed right after the scale-in are recorded.
    result["expected"], result["errors_after"] = _until_answered(host, LONG_QUERY)
    print(f"trino drain: {result}")
    return result


def _running_tasks_on(host: str, pod: str) -> int:
    """Running tasks on the Trino worker of `pod` (its node.id: `<pod>-<uid prefix>`)."""
    sql = f"SELECT count(*) FROM system.runtime.tasks WHERE node_id LIKE '{pod}-%' AND state = 'RUNNING'"
    count: int = _query(host, sql, "30s")[0][0]
    return count


def _until_answered(host: str, sql: str) -> tuple[list[list[Any]], list[str]]:
    """`sql` run until it succeeds (each try ended by Trino after 60 s), within STEP_TIMEOUT_S: its rows and
    the errors of the tries before."""
    errors: list[str] = []

    def answered() -> list[list[Any]] | None:
        try:
            return _query(host, sql, "60s")
        except Exception as err:
            errors.append(f"{type(err).__name__}: {str(err)[:200]}")
            return None

    try:
        rows = wait_until(answered, STEP_TIMEOUT_S, f"{sql!r} answered", 5)
    except AssertionError as err:
        raise AssertionError(f"{err}; errors: {errors}") from None
    return rows, errors


def _query_after_losing_a_worker(kube: Kube, namespace: str, host: str) -> dict[str, Any]:
    """The core pod, running tasks of a long query, killed at once (force-deleted: a spot loss): the
    running query ends (it fails, it doesn't hang) and a query after it succeeds within a bound (the
    coordinator forgets the lost worker; the StatefulSet brings a new one)."""
    [core] = kube.items("pods", "-n", namespace, "-l", f"kemr.io/cluster={CLUSTER},kemr.io/role=core")
    name = core["metadata"]["name"]
    running: dict[str, Any] = {}

    def run() -> None:
        try:
            running["rows"] = _query(host, LONG_QUERY)
        except Exception as err:
            running["error"] = f"{type(err).__name__}: {str(err)[:300]}"

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: _running_tasks_on(host, name) or None, 60, "tasks on the core worker", 0.5)
    lost = time.monotonic()
    # Force-deleted: the kubelet kills its containers after its minimum grace (2 s), no time for a drain.
    kube.run("delete", "pod", "-n", namespace, name, "--grace-period=0", "--force")
    thread.join(STEP_TIMEOUT_S)
    running["ended"] = not thread.is_alive()
    running["ended_s"] = time.monotonic() - lost
    print(f"trino worker lost: the running query {running}")
    rows, errors = _until_answered(host, "SELECT count(*) FROM tpch.tiny.nation")
    return {"rows": rows, "seconds": time.monotonic() - lost, "errors": errors, "running": running}


@pytest.fixture(scope="module")
def trino_run(
    kube: Kube, s3: LocalS3, trino_image: None, real_node_operator: OperatorProcess
) -> Iterator[TrinoRun]:
    del trino_image, real_node_operator
    client = s3.client()
    bucket = f"trino-{secrets.token_hex(4)}"
    client.make_bucket(bucket)
    rows = walkthrough_rows()
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    put_bytes(client, f"s3://{bucket}/raw/orders/orders.csv", text.getvalue().encode())
    namespace = f"e2e-trino-{secrets.token_hex(3)}"
    kube.run("create", "namespace", namespace)
    create_s3_secret(kube, namespace, s3)
    try:
        created = time.monotonic()
        kube.apply(trino_cluster(), namespace=namespace)
        try:
            cluster = emr.wait_for_state(kube, namespace, CLUSTER, "WAITING", CLUSTER_TIMEOUT_S)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{emr.diagnose(kube, namespace)}") from None
        run = TrinoRun(namespace, bucket, client, rows, cluster)
        run.coordinator_start_s = _coordinator_start_seconds(kube, namespace) or time.monotonic() - created

        variables = {"INPUT": f"s3://{bucket}/raw/orders/", "TABLE": f"s3://{bucket}/warehouse/orders"}
        make = step("make-table", {"hive": {"query": MAKE_TABLE, "variables": variables, "driver": {
            "resources": {"cpu": "100m", "memory": "1Gi"}}}})  # fmt: skip
        run.steps["make-table"] = _run_step(kube, namespace, make)
        totals = {"query": TOTALS, "output": f"s3://{bucket}/trino/totals.csv", "driver": DRIVER}
        run.steps["totals"] = _run_step(kube, namespace, step("totals", {"trino": totals}))
        syntax = {"query": "SELEC customer_id FROM orders", "driver": DRIVER}
        run.steps["syntax-error"] = _run_step(kube, namespace, step("syntax-error", {"trino": syntax}))

        host = _service_ip(kube, namespace)
        started = time.monotonic()
        got = _query(host, TOTALS)
        run.client_latency_s = time.monotonic() - started
        run.client_totals = {customer: Decimal(total) for customer, total in got}

        print("\n".join(["trino memory:", *_trino_memory(kube, namespace)]))
        run.drain = _long_query_while_scaling_in(kube, namespace, host)
        run.after_loss = _query_after_losing_a_worker(kube, namespace, host)
        print(emr.diagnose(kube, namespace))
        print(
            f"trino timings: coordinator start {run.coordinator_start_s:.1f} s, totals query through the"
            f" Service {run.client_latency_s:.2f} s, long query {run.drain.get('seconds', 0):.1f} s while"
            f" scaling in (the task pod gone {run.drain['pod_gone_s']:.0f} s after), a query answered"
            f" {run.after_loss['seconds']:.0f} s after a worker was lost"
        )
        print(f"trino worker lost: {run.after_loss}")
        yield run
    finally:
        kube.run("delete", "namespace", namespace, "--wait=false", check=False)


def _coordinator_start_seconds(kube: Kube, namespace: str) -> float | None:
    """From the coordinator container's start to its readiness (the pod's Ready after it)."""
    [master] = kube.items("pods", "-n", namespace, "-l", f"kemr.io/cluster={CLUSTER},kemr.io/role=master")
    status = next(
        (s for s in master["status"].get("containerStatuses", []) if s["name"] == "trino-coordinator"), None
    )
    ready = next((c for c in master["status"]["conditions"] if c["type"] == "Ready"), None)
    if not status or not ready or "running" not in status.get("state", {}):
        return None
    started = status["state"]["running"]["startedAt"]
    return _seconds_between(started, ready["lastTransitionTime"])


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _csv_totals(text: str) -> dict[str, Decimal]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert header == ["customer_id", "total_sales"]
    return {customer: Decimal(total) for customer, total in reader}


def test_the_cluster_reports_trinos_endpoint(trino_run: TrinoRun) -> None:
    endpoints = trino_run.cluster["status"]["endpoints"]
    assert endpoints["trino"] == f"http://{CLUSTER}-master.{trino_run.namespace}.svc:8889"


def test_a_hive_step_made_the_table(trino_run: TrinoRun) -> None:
    status = trino_run.steps["make-table"]["status"]
    assert status["state"] == "COMPLETED", status


def test_the_trino_step_writes_the_exact_totals_to_s3(trino_run: TrinoRun) -> None:
    status = trino_run.steps["totals"]["status"]
    assert status["state"] == "COMPLETED", status
    text = read_bytes(trino_run.client, f"s3://{trino_run.bucket}/trino/totals.csv").decode()
    assert _csv_totals(text) == expected_totals(trino_run.rows)


def test_the_python_client_gets_the_same_totals_through_the_service(trino_run: TrinoRun) -> None:
    assert trino_run.client_totals == expected_totals(trino_run.rows)


def test_a_syntax_error_fails_the_step_with_trinos_message_and_query_id(trino_run: TrinoRun) -> None:
    status = trino_run.steps["syntax-error"]["status"]
    assert status["state"] == "FAILED"
    message = status["failureDetails"]["message"]
    assert "SYNTAX_ERROR" in message, message
    assert "SELEC" in message, message
    assert re.search(r"Trino query \d{8}_\d{6}_\d{5}_\w{5} failed", message), message


def test_scaling_the_task_group_in_drains_its_worker_without_failing_the_query(trino_run: TrinoRun) -> None:
    drain = trino_run.drain
    assert "error" not in drain, drain
    assert drain["rows"] == drain["expected"]
    # The query was still running when the scale-in began: the drain, not luck, kept it alive.
    assert drain["ended_at"] > drain["scaled_in_at"], drain


def test_a_worker_lost_at_once_does_not_wedge_the_coordinator(trino_run: TrinoRun) -> None:
    lost = trino_run.after_loss
    assert lost["running"]["ended"], lost  # the query on it ended (with Trino's error), it didn't hang
    assert lost["rows"] == [[25]], lost
