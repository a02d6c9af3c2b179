"""A notebook attached to a running cluster, as a user works with it, on the real node in a real browser:

1. an EMRCluster that terminates after 60 s idle, and an EMRNotebook attached to it (token from a Secret);
2. `kubectl emr notebook NAME` forwards to JupyterLab; headless Chromium opens it with the token, creates a
   notebook from the Launcher and runs a cell that reads the demo's orders from S3 with the kernel's
   SparkSession (client mode against the cluster's master) and prints the per-customer totals: the page must
   show exactly the totals computed here from the CSV;
3. the notebook is saved to the EMRNotebook's S3 location;
4. a cell that keeps the kernel busy for longer than the idle timeout doesn't let the cluster terminate;
   once the kernel is idle the cluster's idle timer runs out and the notebook is detached (STOPPED).

Screenshots: test-artifacts/notebook-*.png. The closing figure: apply → JupyterLab page loaded.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from support import emr
from support.browser import screenshot, wait_for
from support.kube import Kube, wait_until
from support.operator import OperatorProcess
from support.plugin import kubectl_emr_forward
from support.s3 import LocalS3, list_keys, put_bytes
from support.walkthrough import create_s3_secret, s3_spec

REPO = Path(__file__).resolve().parents[2]
ORDERS = REPO / "scripts" / "demo" / "orders.csv"
CLUSTER = "nb"
NOTEBOOK = "analysis"
IDLE_TIMEOUT_S = 60
BUSY_S = IDLE_TIMEOUT_S + 45
IMAGE_TIMEOUT_S = 1800

pytestmark = pytest.mark.timeout(1500)


@pytest.fixture(scope="module")
def notebook_image(real_node: str) -> None:
    """The notebook image in the real node's containerd: built if its inputs changed, then imported."""
    del real_node
    for script in ("build.sh", "import.sh"):
        done = subprocess.run(
            [REPO / "images" / script, "notebook"],
            capture_output=True,
            text=True,
            check=False,
            timeout=IMAGE_TIMEOUT_S,
        )
        if done.returncode != 0:
            pytest.fail(f"images/{script} notebook failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def expected_totals() -> dict[str, Decimal]:
    import csv

    totals: dict[str, Decimal] = {}
    with ORDERS.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] == "COMPLETED":
                totals[row["customer_id"]] = totals.get(row["customer_id"], Decimal(0)) + Decimal(
                    row["amount"]
                )
    return totals


def why(kube: Kube, namespace: str, log: Path) -> str:
    """What to look at when the page doesn't show what it should: the forward's stderr, the notebook's pod
    (restarts, last state) and status, the namespace's objects and events."""
    each = '{.metadata.name} {.status.phase} {.status.containerStatuses}{"\\n"}'
    jsonpath = f"jsonpath={{range .items[*]}}{each}{{end}}"
    pods = kube.run(
        "get", "pods", "-n", namespace, "-l", "kemr.io/role=notebook", "-o", jsonpath, check=False
    )
    return (
        f"--- kubectl emr notebook's stderr\n{log.read_text()[-3000:]}\n--- notebook pods\n{pods.stdout}\n"
        f"--- notebook status\n{notebook_state(kube, namespace)}\n{emr.diagnose(kube, namespace)}"
    )


def run_cell(browser: WebDriver, code: str) -> None:
    """Types `code` (one line: JupyterLab's editor indents after a newline) into the active cell and runs it
    with Shift+Enter, as a user does."""
    editor = wait_for(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell.jp-mod-active .cm-content"),
        30,
        "an active cell's editor",
    )
    assert isinstance(editor, list)
    editor[0].click()
    editor[0].send_keys(code)
    editor[0].send_keys(Keys.SHIFT, Keys.ENTER)


def body_text(browser: WebDriver) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def kernel_idle(browser: WebDriver) -> bool:
    """Whether JupyterLab's status bar shows the notebook's kernel Idle ("Python 3 (ipykernel) | Idle"):
    started, its SparkSession made (kemr's startup file), and connected."""
    bar = browser.find_elements(By.ID, "jp-main-statusbar")
    return bool(bar) and "| Idle" in bar[0].text


@pytest.fixture(scope="module")
def attached(
    kube: Kube, s3: LocalS3, notebook_image: None, real_node_operator: OperatorProcess
) -> Iterator[dict[str, Any]]:
    del notebook_image, real_node_operator
    client = s3.client()
    bucket = f"nb-{secrets.token_hex(4)}"
    client.make_bucket(bucket)
    put_bytes(client, f"s3://{bucket}/input/orders.csv", ORDERS.read_bytes())
    namespace = f"e2e-nb-{secrets.token_hex(3)}"
    kube.run("create", "namespace", namespace)
    create_s3_secret(kube, namespace, s3)
    token = secrets.token_hex(16)
    kube.run("create", "secret", "generic", "nb-token", "-n", namespace, f"--from-literal=token={token}")
    cluster = emr.small_real_cluster(
        CLUSTER,
        s3=s3_spec(),
        logUri=f"s3://{bucket}/logs/",
        autoTermination={"keepAliveWhenNoSteps": True, "idleTimeoutSeconds": IDLE_TIMEOUT_S},
    )
    kube.apply(cluster, namespace=namespace)
    emr.wait_for_state(kube, namespace, CLUSTER, "WAITING", timeout=600)
    notebook = {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "EMRNotebook",
        "metadata": {"name": NOTEBOOK},
        "spec": {
            "clusterRef": {"name": CLUSTER},
            "s3Location": f"s3://{bucket}/notebooks/",
            "auth": {"tokenSecretRef": {"name": "nb-token"}},
            "resources": {"cpu": "200m", "memory": "1536Mi"},
        },
    }
    applied = time.monotonic()
    kube.apply(notebook, namespace=namespace)
    yield {"namespace": namespace, "bucket": bucket, "token": token, "applied": applied, "client": client}
    kube.run("delete", "namespace", namespace, "--wait=false", check=False)


def notebook_state(kube: Kube, namespace: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.get("emrnotebook", "-n", namespace, NOTEBOOK)
    return obj.get("status") or {}


def test_a_notebook_runs_spark_on_its_cluster_and_keeps_it_busy(
    attached: dict[str, Any], kube: Kube, browser: WebDriver, tmp_path: Path
) -> None:
    namespace, bucket, token = attached["namespace"], attached["bucket"], attached["token"]
    try:
        wait_until(
            lambda: notebook_state(kube, namespace).get("state") == "READY", 600, "the notebook READY", 2
        )
    except AssertionError as err:
        raise AssertionError(
            f"{err}\n{notebook_state(kube, namespace)}\n{emr.diagnose(kube, namespace)}"
        ) from None
    log = tmp_path / "kubectl-emr-notebook.log"
    with kubectl_emr_forward(kube, "notebook", NOTEBOOK, "-n", namespace, log=log) as url:
        browser.get(f"{url}?token={token}")
        wait_for(
            browser,
            lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-LauncherCard"),
            120,
            "JupyterLab's Launcher",
        )
        print(f"EMRNotebook applied → JupyterLab page loaded: {time.monotonic() - attached['applied']:.1f} s")
        screenshot(browser, "notebook-launcher")
        card = browser.find_element(By.CSS_SELECTOR, '.jp-LauncherCard[data-category="Notebook"]')
        card.click()
        # As a user does, run the first cell once the kernel shows Idle: JupyterLab drops a cell run before
        # its session has a kernel (the prompt stays "[ ]", nothing is sent), and the kernel would then sit
        # idle until the cluster's idle timeout rightly ended the cluster.
        wait_for(browser, kernel_idle, 300, "the new notebook's kernel Idle in the status bar")
        code = (
            "from pyspark.sql import functions as F; "
            f"df = spark.read.option('header', True).csv('s3a://{bucket}/input/orders.csv'); "
            "rows = df.where(df.status == 'COMPLETED').groupBy('customer_id')"
            ".agg(F.sum(F.col('amount').cast('decimal(12,2)')).alias('total'))"
            ".orderBy('customer_id').collect(); "
            "print('TOTALS ' + ' '.join(f'{r.customer_id}={r.total}' for r in rows))"
        )
        run_cell(browser, code)
        try:
            printed = wait_for(
                browser,
                lambda d: next(
                    (s for line in body_text(d).splitlines() if (s := line.strip()).startswith("TOTALS ")),
                    None,
                ),
                300,
                "the totals printed by the cell",
            )
        except AssertionError as err:
            screenshot(browser, "notebook-totals-failed")
            raise AssertionError(f"{err}\n{why(kube, namespace, log)}") from None
        screenshot(browser, "notebook-totals")
        assert isinstance(printed, str)
        shown = dict(item.split("=") for item in printed.removeprefix("TOTALS ").split())
        assert {k: Decimal(v) for k, v in shown.items()} == expected_totals()
        # saved where EMR Notebooks keep them: under the S3 location
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.CONTROL, "s")
        wait_until(
            lambda: any(
                k.endswith(".ipynb") for k in list_keys(attached["client"], f"s3://{bucket}/notebooks/")
            ),
            60,
            "the notebook file in S3",
            2,
        )
        # JupyterLab 4 offers to rename a new notebook on its first save (a modal dialog): keep the name.
        for button in browser.find_elements(By.CSS_SELECTOR, "dialog.jp-Dialog .jp-mod-accept"):
            button.click()
        wait_for(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog.jp-Dialog"), 30, "no dialog")
        # busy for longer than the idle timeout: the cluster must stay up
        run_cell(browser, f"import time; time.sleep({BUSY_S}); print('SLEPT')")
        busy_from = time.monotonic()
        wait_until(
            lambda: (notebook_state(kube, namespace).get("kernels") or {}).get("busy", 0) > 0,
            90,
            "a busy kernel in the status",
            3,
        )
        while time.monotonic() - busy_from < BUSY_S - 5:
            state = emr.cluster(kube, namespace, CLUSTER)["status"]["state"]
            assert state == "WAITING", f"the cluster went {state} while the notebook's kernel was busy"
            time.sleep(5)
        wait_for(browser, lambda d: "SLEPT" in body_text(d), 120, "the busy cell to end")
    # idle now: the idle timeout runs out, the cluster terminates and the notebook is detached
    emr.wait_for_state(kube, namespace, CLUSTER, "TERMINATED", timeout=IDLE_TIMEOUT_S + 300)
    wait_until(
        lambda: notebook_state(kube, namespace).get("state") == "STOPPED", 120, "the notebook STOPPED", 2
    )
