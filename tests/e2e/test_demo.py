"""The promise of kemr, end to end on the real node: apply a transient cluster with steps, get the results in
S3. One cluster (the demo's manifest) runs five steps in order, then terminates itself:

1. `sales`: the demo job; its output must equal the per-customer totals computed here from the CSV, and
   have _SUCCESS;
2. `to-hdfs`: writes the completed orders to hdfs:// on the core node;
3. `count`: reads them back from HDFS and writes the count to S3;
4. `fails`: raises a ValueError; the step must end FAILED with the exception as failureDetails.message and its
   driver log at failureDetails.logFile;
5. `half-written`: fails while its tasks write; the committer must leave no output at all;
6. `literal`: a command step whose arguments hold `$(VAR)`, `$$` and `${X}`: the program must get them exactly
   (the kubelet expands `$(VAR)` in a container's command unless kemr escapes it);
7. `oom`: a command step that allocates more than its container's memory limit: the kernel kills it, and the
   step says so (OUT_OF_MEMORY, the limit, the field to raise).

After the cluster terminated, `kubectl emr ui` opens the demo job's Spark UI from the cluster's history server
in a real browser (Debian's Chromium), with screenshots in test-artifacts/.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import secrets
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from minio import Minio
from selenium.webdriver.remote.webdriver import WebDriver

from kemr.api.constants import SPARK_APPLICATION_ID_PATTERN
from support import emr
from support.browser import screenshot, wait_for
from support.kube import Kube, wait_until
from support.operator import OperatorProcess
from support.plugin import kubectl_emr, kubectl_emr_forward
from support.s3 import LocalS3, list_keys, put_bytes, read_bytes

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "demo"
ORDERS = DEMO / "orders.csv"
MANIFEST = REPO / "manifests" / "demo" / "emrcluster-demo.yaml"
HDFS_DIR = "hdfs:///kemr-e2e/completed-orders"
# User strings the kubelet would rewrite in a command if kemr passed them unescaped.
LITERAL = ("$(HOME) $$ ${X}", "spark.x=$(KEMR_STEP)")
# Cold images and JVMs on 2 CPUs: cluster start ~2 min, each step ~1 min.
RUN_TIMEOUT_S = 1500

pytestmark = pytest.mark.timeout(RUN_TIMEOUT_S + 240)


@dataclass(frozen=True)
class DemoRun:
    namespace: str
    bucket: str
    cluster: dict[str, Any]
    steps: dict[str, dict[str, Any]]  # by inline step name
    client: Minio

    def output(self, name: str) -> str:
        return f"s3://{self.bucket}/output/{name}/"


def expected_totals(path: Path) -> dict[str, Decimal]:
    """Total amount of COMPLETED orders per customer, computed without Spark."""
    totals: dict[str, Decimal] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] == "COMPLETED":
                totals[row["customer_id"]] = totals.get(row["customer_id"], Decimal(0)) + Decimal(
                    row["amount"]
                )
    return totals


def completed_orders(path: Path) -> int:
    with path.open(newline="") as f:
        return sum(1 for row in csv.DictReader(f) if row["status"] == "COMPLETED")


def read_csv_output(client: Minio, prefix: str) -> list[dict[str, str]]:
    """Every row of the part files under an output prefix (each part has its header)."""
    rows: list[dict[str, str]] = []
    for key in list_keys(client, prefix):
        if key.endswith(".csv"):
            text = read_bytes(client, f"s3://{prefix.split('/')[2]}/{key}").decode()
            rows += list(csv.DictReader(io.StringIO(text)))
    return rows


def demo_cluster(bucket: str) -> dict[str, Any]:
    """The demo's manifest, on this test's bucket, with the round-trip and failing steps after the demo's."""
    manifest: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    text = yaml.safe_dump(manifest).replace("kemr-demo", bucket)
    manifest = yaml.safe_load(text)
    sales = manifest["spec"]["steps"][0]
    driver = sales["spark"]["driver"]

    def step(name: str, job: str, *args: str) -> dict[str, Any]:
        spark = {"mainApplicationFile": f"s3a://{bucket}/jobs/{job}", "args": list(args), "driver": driver}
        return {"name": name, "actionOnFailure": "CONTINUE", "spark": copy.deepcopy(spark)}

    orders = f"s3a://{bucket}/input/orders.csv"
    manifest["spec"]["steps"] = [
        sales,
        step("to-hdfs", "orders_to_hdfs.py", orders, HDFS_DIR),
        step("count", "count_hdfs_orders.py", HDFS_DIR, f"s3a://{bucket}/output/hdfs_count/"),
        step("fails", "failing_job.py", orders),
        step("half-written", "fails_mid_write.py", orders, f"s3a://{bucket}/output/half_written/"),
        {
            "name": "literal",
            "actionOnFailure": "CONTINUE",
            # Prints its two arguments into the termination message, which becomes failureDetails.message.
            "command": {
                "args": [
                    "sh",
                    "-c",
                    'printf "%s|%s" "$1" "$2" >/dev/termination-log; exit 3',
                    "sh",
                    *LITERAL,
                ],
                "driver": {"resources": {"cpu": "100m", "memory": "128Mi"}},
            },
        },
        {
            "name": "oom",
            "actionOnFailure": "CONTINUE",
            "command": {
                "args": [
                    "python3",
                    "-c",
                    "b = bytearray(512 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])",
                ],
                "driver": {"resources": {"cpu": "100m", "memory": "128Mi"}},
            },
        },
    ]
    return manifest


@pytest.fixture(scope="module")
def demo_run(kube: Kube, s3: LocalS3, real_node_operator: OperatorProcess) -> Iterator[DemoRun]:
    del real_node_operator
    client = s3.client()
    bucket = f"e2e-{secrets.token_hex(4)}"
    client.make_bucket(bucket)
    put_bytes(client, f"s3://{bucket}/input/orders.csv", ORDERS.read_bytes())
    jobs = ("sales_by_customer", "orders_to_hdfs", "count_hdfs_orders", "failing_job", "fails_mid_write")
    for job in (f"{name}.py" for name in jobs):
        put_bytes(client, f"s3://{bucket}/jobs/{job}", (DEMO / job).read_bytes())
    namespace = f"e2e-demo-{secrets.token_hex(3)}"
    kube.run("create", "namespace", namespace)
    secret = kube.run(
        "create",
        "secret",
        "generic",
        "kemr-s3",
        "-n",
        namespace,
        "--dry-run=client",
        "-o",
        "yaml",
        f"--from-literal=AWS_ACCESS_KEY_ID={s3.access_key}",
        f"--from-literal=AWS_SECRET_ACCESS_KEY={s3.secret_key}",
    ).stdout
    kube.run("apply", "-f", "-", stdin=secret)
    manifest = demo_cluster(bucket)
    name = manifest["metadata"]["name"]
    kube.apply(manifest, namespace=namespace)

    def terminated() -> dict[str, Any] | None:
        obj = emr.cluster(kube, namespace, name)
        return obj if str((obj.get("status") or {}).get("state")).startswith("TERMINATED") else None

    try:
        cluster = wait_until(terminated, RUN_TIMEOUT_S, f"EMRCluster {namespace}/{name} to terminate", 5)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{emr.diagnose(kube, namespace)}") from None
    steps = {
        s["metadata"]["name"].removeprefix(f"{name}-"): s
        for s in kube.items("emrsteps", "-n", namespace, "-l", f"kemr.io/cluster={name}")
    }
    print(emr.diagnose(kube, namespace))
    yield DemoRun(namespace, bucket, cluster, steps, client)
    kube.run("delete", "namespace", namespace, "--wait=false", check=False)


def _state(run: DemoRun, step: str) -> str:
    state: str = run.steps[step]["status"]["state"]
    return state


def test_demo_output_in_s3_equals_the_totals_computed_from_the_orders(demo_run: DemoRun) -> None:
    assert _state(demo_run, "sales") == "COMPLETED"
    prefix = demo_run.output("sales_by_customer")
    keys = list_keys(demo_run.client, prefix)
    assert "output/sales_by_customer/_SUCCESS" in keys, keys
    assert not [k for k in keys if "__magic" in k], "the committer leaves no staging data behind"
    rows = read_csv_output(demo_run.client, prefix)
    got = {row["customer_id"]: Decimal(row["total_sales"]) for row in rows}
    assert got == expected_totals(ORDERS)


def test_a_dataset_written_to_hdfs_is_read_back_by_the_next_step(demo_run: DemoRun) -> None:
    assert _state(demo_run, "to-hdfs") == "COMPLETED"
    assert _state(demo_run, "count") == "COMPLETED"
    prefix = demo_run.output("hdfs_count")
    assert "output/hdfs_count/_SUCCESS" in list_keys(demo_run.client, prefix)
    assert read_csv_output(demo_run.client, prefix) == [{"orders": str(completed_orders(ORDERS))}]


def test_a_failing_job_reports_its_python_exception_and_its_driver_log(demo_run: DemoRun) -> None:
    status = demo_run.steps["fails"]["status"]
    assert status["state"] == "FAILED"
    details = status["failureDetails"]
    orders = f"s3a://{demo_run.bucket}/input/orders.csv"
    assert details["message"].strip() == f"ValueError: kemr demo: no order has status REFUNDED in {orders}"
    log = read_bytes(demo_run.client, details["logFile"]).decode()
    assert "Traceback (most recent call last):" in log
    assert "ValueError: kemr demo: no order has status REFUNDED" in log


def test_a_job_failing_while_it_writes_leaves_no_output(demo_run: DemoRun) -> None:
    assert _state(demo_run, "half-written") == "FAILED"
    keys = list_keys(demo_run.client, demo_run.output("half_written"))
    assert not [k for k in keys if "/part-" in k or k.endswith("/_SUCCESS")], keys


def test_every_step_leaves_its_driver_log_and_spark_event_log_under_log_uri(demo_run: DemoRun) -> None:
    logs = list_keys(demo_run.client, f"s3://{demo_run.bucket}/logs/")
    for step in ("sales", "to-hdfs", "count", "fails", "half-written"):
        assert any(f"/steps/demo-{step}/attempt-1/driver.log" in key for key in logs), (step, logs)
    events = [key for key in logs if "/spark-events/" in key]
    assert len(events) >= 5, events


def test_the_transient_cluster_terminates_itself_after_its_steps(demo_run: DemoRun, kube: Kube) -> None:
    assert demo_run.cluster["status"]["state"] == "TERMINATED"
    assert demo_run.cluster["status"]["stateChangeReason"]["code"] == "ALL_STEPS_COMPLETED"
    daemons = kube.items("pods", "-n", demo_run.namespace, "-l", "kemr.io/role in (master,core,task)")
    assert daemons == []


def test_user_strings_reach_the_program_exactly(demo_run: DemoRun) -> None:
    status = demo_run.steps["literal"]["status"]
    assert status["state"] == "FAILED"
    assert status["failureDetails"]["message"] == "|".join(LITERAL)


def test_an_oom_killed_driver_is_reported_as_such(demo_run: DemoRun) -> None:
    status = demo_run.steps["oom"]["status"]
    assert status["state"] == "FAILED"
    assert status["failureDetails"]["reason"] == "OUT_OF_MEMORY"
    assert "memory limit 128Mi" in status["failureDetails"]["message"]
    assert "spec.driver.resources.memory" in status["failureDetails"]["message"]
    assert status["attempts"][0]["exitCode"] == 137


def test_kubectl_emr_logs_shows_a_real_driver_log(demo_run: DemoRun, kube: Kube) -> None:
    # A finished driver pod is kept with its step, so its log stays readable after the cluster terminated.
    step = demo_run.steps["fails"]["metadata"]["name"]
    logs = kubectl_emr(kube, "logs", step, "-n", demo_run.namespace)
    assert "ValueError: kemr demo: no order has status REFUNDED" in logs.stdout


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def test_a_finished_steps_spark_ui_is_served_by_the_history_server_after_the_cluster_terminated(
    demo_run: DemoRun, kube: Kube, browser: WebDriver, tmp_path: Path
) -> None:
    sales = demo_run.steps["sales"]
    application = sales["status"]["attempts"][-1]["applicationId"]
    assert re.fullmatch(SPARK_APPLICATION_ID_PATTERN, application), sales["status"]["attempts"]
    failed = demo_run.steps["fails"]["status"]["attempts"][-1]
    assert failed.get("applicationId"), "a failed application is named too"
    assert demo_run.steps["fails"]["status"]["failureDetails"]["message"].startswith("ValueError")
    started = time.monotonic()
    ui = ("ui", sales["metadata"]["name"], "-n", demo_run.namespace, "--timeout", "240")
    with kubectl_emr_forward(kube, *ui, log=tmp_path / "kubectl-emr-ui.log") as url:
        assert url.endswith(f"/history/{application}/jobs/")
        base = url.split("/history/")[0]
        # The listing is the history server's first scan of the event logs: poll until it names the app.
        wait_until(
            lambda: any(a["id"] == application for a in _get_json(f"{base}/api/v1/applications")),
            90,
            f"the history server to list {application}",
            1,
        )
        jobs = _get_json(f"{base}/api/v1/applications/{application}/jobs")
        stages = _get_json(f"{base}/api/v1/applications/{application}/stages")
        assert jobs, "the demo job ran Spark jobs"
        assert {j["status"] for j in jobs} == {"SUCCEEDED"}
        assert stages
        assert all(s["status"] in ("COMPLETE", "SKIPPED") for s in stages)
        browser.get(url)
        wait_for(
            browser,
            lambda d: "Completed Jobs" in d.find_element("tag name", "body").text,
            120,
            "the jobs page",
        )
        print(f"kubectl emr ui → history server jobs page loaded: {time.monotonic() - started:.1f} s")
        assert "sales" in browser.title.lower() or application in browser.page_source
        screenshot(browser, "spark-history-jobs")
        browser.get(f"{base}/history/{application}/stages/")
        wait_for(
            browser,
            lambda d: "Completed Stages" in d.find_element("tag name", "body").text,
            60,
            "stages page",
        )
        screenshot(browser, "spark-history-stages")
    # The history server has its own NetworkPolicy and never blocks the cluster's end.
    policy = kube.run(
        "get",
        "networkpolicy",
        f"{demo_run.cluster['metadata']['name']}-history",
        "-n",
        demo_run.namespace,
        "-o",
        "json",
    )
    assert json.loads(policy.stdout)["spec"]["policyTypes"] == ["Ingress"]
