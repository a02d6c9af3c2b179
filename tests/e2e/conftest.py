"""End-to-end fixtures: Spark and HDFS really running on the local cluster's real node, S3 on the host.

Skipped, with the reason, when no real node is Ready. The operator runs as a process (as in tests/integration)
with the placement the demo's Helm values give it: every pod of a cluster on the real node."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from selenium.webdriver.remote.webdriver import WebDriver

from support.browser import new_browser
from support.kube import Kube
from support.operator import OperatorProcess
from support.s3 import LocalS3, start_local_s3

REPO = Path(__file__).resolve().parents[2]
DEMO_VALUES = REPO / "manifests" / "demo" / "values-local.yaml"
REAL_NODE_LABEL = "kemr.io/real-node=true"


def ready_real_nodes(kube: Kube) -> list[str]:
    ready = []
    for node in kube.items("nodes", "-l", REAL_NODE_LABEL):
        conditions = node.get("status", {}).get("conditions", [])
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            ready.append(node["metadata"]["name"])
    return ready


@pytest.fixture(scope="session")
def real_node(kube: Kube) -> str:
    nodes = ready_real_nodes(kube)
    if not nodes:
        pytest.skip(
            f"no Ready real node ({REAL_NODE_LABEL}): end-to-end tests run Spark in real containers; "
            "`make cluster` brings the real node up on a root machine with runc (docs/real-node.md)"
        )
    return nodes[0]


@pytest.fixture(scope="session")
def s3(kube: Kube) -> LocalS3:
    del kube  # the S3 Service needs the cluster up
    return start_local_s3()


@pytest.fixture(scope="session")
def data_plane_image(real_node: str) -> None:
    """The data-plane image in the real node's containerd: imported from the archive `make images` builds
    (before pytest, as `make test` does; importing again is cheap)."""
    del real_node
    done = subprocess.run(
        [REPO / "images" / "import.sh", "spark"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"could not import the data-plane image (build it with `make images`):\n{done.stderr}")


@pytest.fixture(scope="module")
def real_node_operator(
    data_plane_image: None, operator: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """An operator configured as the demo's Helm values configure it (placement on the real node, images from
    the node's containerd); the session's operator is stopped meanwhile: one operator at a time."""
    del data_plane_image
    workdir = tmp_path_factory.mktemp("e2e-operator")
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump(yaml.safe_load(DEMO_VALUES.read_text())["config"]))
    operator.stop()
    proc = OperatorProcess(operator.kubeconfig, workdir / "operator.log", env={"KEMR_CONFIG": str(config)})
    proc.start()
    try:
        yield proc
    finally:
        try:
            proc.stop()
        except Exception:
            proc.kill()
        print(f"e2e operator log: {workdir / 'operator.log'}")
        operator.start()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium (tests/support/browser.py), one per module."""
    driver = new_browser()
    try:
        yield driver
    finally:
        driver.quit()
