"""The operator as users install it: the Helm chart charts/kemr, its image from the real node's containerd.

Issue 6's "done when": the chart's operator is Running on the real node and reconciles an EMRCluster placed
there — the master and a core pod really run (every container ready) and the Spark master UI answers on the
master Service with its worker registered — then the EMRCluster, the release and the namespace go away.

One operator at a time acts on an object: the session's host operator is stopped meanwhile (`spawn_operator`),
and the release watches only the test's namespace (others' objects on the shared cluster are never touched).
Skipped when the cluster scripts bring up no real node (KEMR_REAL_NODE=0, not root).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support import emr
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

REPO = Path(__file__).resolve().parents[2]
DEMO_VALUES = REPO / "manifests" / "demo" / "values-local.yaml"
NODE_LABEL = "kemr.io/real-node"
NAME = "incluster"
# Cold JVMs on the node's 2 CPUs take ~2 min to start; others' pods may share the node.
START_TIMEOUT_S = 360

pytestmark = [
    pytest.mark.skipif(
        subprocess.run(["bash", "-c", f". {REPO / 'cluster' / 'lib.sh'} && real_node_wanted"]).returncode
        != 0,
        reason="no real node (KEMR_REAL_NODE=0 or not root)",
    ),
    pytest.mark.timeout(START_TIMEOUT_S + 240),
]


def _helm_bin() -> str:
    """helm from the cluster's tool cache (cluster/env.sh), the one `make cluster` installs."""
    env = subprocess.run([REPO / "cluster" / "env.sh"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^export KEMR_BIN=(\S+)$", env, re.M)
    assert found, f"cluster/env.sh printed no KEMR_BIN:\n{env}"
    return str(Path(found.group(1)) / "helm")


def _helm(kube: Kube, *args: str) -> str:
    cmd = [_helm_bin(), f"--kubeconfig={kube.kubeconfig}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _all_containers_ready(kube: Kube, namespace: str, pod: str) -> dict[str, Any] | None:
    found = kube.run("get", "pod", pod, "-n", namespace, "-o", "json", check=False)
    if found.returncode != 0:
        return None
    obj: dict[str, Any] = json.loads(found.stdout)
    statuses = obj.get("status", {}).get("containerStatuses", [])
    return obj if statuses and all(s.get("ready") for s in statuses) else None


@pytest.fixture
def images() -> None:
    """Both images in the node's containerd, from the archives `make images` builds (cheap when present)."""
    done = subprocess.run([REPO / "images" / "import.sh", "all"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not import the images (build them with `make images`):\n{done.stderr}")


@pytest.fixture
def chart_operator(
    kube: Kube,
    crds: Kube,
    namespace: str,
    images: None,
    spawn_operator: Callable[..., OperatorProcess],
) -> Iterator[str]:
    """The chart installed into the test's namespace, watching only it; yields the operator pod's name.
    Afterwards the EMRCluster is deleted while the operator still runs (it removes its finalizer), then the
    release is uninstalled."""
    del crds, images, spawn_operator  # the host operator is stopped while this one runs
    release = f"kemr-{secrets.token_hex(3)}"
    _helm(
        kube,
        "install",
        release,
        str(REPO / "charts" / "kemr"),
        f"--namespace={namespace}",
        f"--values={DEMO_VALUES}",
        f"--set-json=watchNamespaces={json.dumps([namespace])}",
        "--wait",
        "--timeout=3m",
    )
    try:
        pods = kube.items("pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}")
        assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
        yield pods[0]["metadata"]["name"]
    finally:
        kube.run(
            "delete", "emrcluster", NAME, "-n", namespace, "--ignore-not-found", "--timeout=120s", check=False
        )
        _helm(kube, "uninstall", release, f"--namespace={namespace}", "--wait", "--timeout=2m")


def test_chart_operator_on_the_real_node_runs_a_spark_cluster(
    kube: Kube, namespace: str, chart_operator: str
) -> None:
    operator_pod = kube.get("pod", chart_operator, "-n", namespace)
    node = operator_pod["spec"]["nodeName"]
    assert kube.get("node", node)["metadata"]["labels"].get(NODE_LABEL) == "true", node
    assert operator_pod["status"]["phase"] == "Running"
    assert operator_pod["spec"]["containers"][0]["image"].startswith("ghcr.io/kemr-io/kemr-operator:")

    # Its admission webhook, reached by the apiserver through the chart's Service: the operator writes its CA
    # bundle into the release's webhook configuration, then refuses what it could only fail.
    release = operator_pod["metadata"]["labels"]["app.kubernetes.io/instance"]

    def ca_injected() -> bool:
        webhooks = kube.get("validatingwebhookconfiguration", release)["webhooks"]
        return all(w["clientConfig"].get("caBundle") for w in webhooks)

    wait_until(ca_injected, 60, "the CA bundle in the release's webhook configuration")
    tiny = emr.small_real_cluster("tiny")
    tiny["spec"]["coreGroups"][0]["resources"]["memory"] = "1Gi"
    refused = kube.apply(tiny, namespace=namespace, check=False)
    assert refused.returncode != 0
    assert (
        'admission webhook "emrclusters.kemr.io" denied the request: EMRCluster tiny is invalid'
        in refused.stderr
    )

    kube.apply(emr.small_real_cluster(NAME), namespace=namespace)

    def ready(pod: str) -> dict[str, Any] | None:
        conditions = kube.get("emrcluster", NAME, "-n", namespace).get("status", {}).get("conditions", [])
        stalled = [c["message"] for c in conditions if c["type"] == "Stalled" and c["status"] == "True"]
        assert not stalled, f"the operator stalled on the EMRCluster: {stalled}"
        return _all_containers_ready(kube, namespace, pod)

    for pod in (f"{NAME}-master-0", f"{NAME}-core-core-0"):
        found = wait_until(
            lambda pod=pod: ready(pod),  # type: ignore[misc]
            START_TIMEOUT_S,
            f"every container of {pod} ready",
            interval=3,
        )
        assert found["spec"]["nodeName"] == node, f"{pod} is not on the real node"

    # The master UI through the apiserver's service proxy: up, and the core node's worker registered with it.
    ui = f"/api/v1/namespaces/{namespace}/services/{NAME}-master:8080/proxy/json/"

    def alive_workers() -> int | None:
        got = kube.run("get", "--raw", ui, check=False)
        if got.returncode != 0:
            return None
        workers: int = json.loads(got.stdout).get("aliveworkers", 0)
        return workers or None

    assert wait_until(alive_workers, 120, "a worker alive in the Spark master UI", interval=3) == 1

    state = wait_until(
        lambda: (
            kube.get("emrcluster", NAME, "-n", namespace).get("status", {}).get("state") == "WAITING" or None
        ),
        120,
        "the EMRCluster WAITING",
        interval=2,
    )
    assert state
    # It was this operator, not another: its own log names the cluster it reconciled.
    logs = kube.run("logs", "-n", namespace, chart_operator).stdout
    assert f"{namespace}/{NAME}" in logs, logs[-2000:]
