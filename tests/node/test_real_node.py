"""The real node (kubelet + containerd on this machine) runs pods for real beside the simulated kwok pools.

Issue 6's "done when": the node is Ready next to the kwok pools, a pod of the local test image runs and its
logs are readable, pods reach each other and the apiserver through Services by name (CoreDNS + kube-proxy),
the host resolves Service names and reaches ClusterIPs, and simulated workloads never land on the node.
Skipped when the cluster scripts bring up no real node (KEMR_REAL_NODE=0, not root).
"""

from __future__ import annotations

import copy
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from support.kube import Kube, wait_until

NODE = os.environ.get("KEMR_REAL_NODE_NAME", "kemr-real-0")
TEST_IMAGE = "kemr.local/busybox:test"
CLUSTER_DNS = "10.96.0.10"
# What a pod needs to run on the real node: it is tainted so that simulated workloads stay off it.
ON_REAL_NODE: dict[str, Any] = {
    "nodeSelector": {"kemr.io/real-node": "true"},
    "tolerations": [{"key": "kemr.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
}

CLUSTER_LIB = Path(__file__).resolve().parents[2] / "cluster" / "lib.sh"


def _real_node_wanted() -> bool:
    """The scripts' own decision (KEMR_REAL_NODE, root, runc), so tests and `make cluster` agree."""
    check = subprocess.run(["bash", "-c", f". {CLUSTER_LIB} && real_node_wanted"], check=False)
    return check.returncode == 0


pytestmark = pytest.mark.skipif(not _real_node_wanted(), reason="no real node (KEMR_REAL_NODE=0 or not root)")


def _pod(name: str, script: str, restart: str = "Never", **spec: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": TEST_IMAGE,
        "imagePullPolicy": "Never",
        "command": ["/bin/sh", "-c", script],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            **copy.deepcopy(ON_REAL_NODE),  # tests change their pod's selector and tolerations
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [container],
            **spec,
        },
    }


def _service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": port}]},
    }


def _phase(kube: Kube, namespace: str, name: str) -> str:
    phase: str = kube.get("pod", name, "-n", namespace)["status"].get("phase", "")
    return phase


def _finished(kube: Kube, namespace: str, name: str, timeout: float = 60) -> str:
    """Waits for the pod to end; returns its phase (the logs are in the assertion message otherwise)."""

    def ended() -> str | None:
        phase = _phase(kube, namespace, name)
        return phase if phase in ("Succeeded", "Failed") else None

    return wait_until(ended, timeout, f"pod {name} to finish")


def _logs(kube: Kube, namespace: str, name: str) -> str:
    return kube.run("logs", "-n", namespace, name).stdout


def _web_server(kube: Kube, namespace: str, name: str) -> str:
    """An HTTP server pod (busybox httpd) behind a Service; returns the Service's ClusterIP once it serves."""
    script = f"mkdir -p /www && echo hello-from-{name} >/www/index.html && exec httpd -f -p 8080 -h /www"
    pod = _pod(name, script, restart="Always")
    pod["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    kube.apply(pod, _service(name, 8080), namespace=namespace)
    kube.run("wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
    cluster_ip: str = kube.get("service", name, "-n", namespace)["spec"]["clusterIP"]
    return cluster_ip


def _http_get(url: str) -> str | None:
    """The body, or None while the connection is refused. No proxy: ClusterIPs are reached directly."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            body: str = response.read().decode()
            return body
    except OSError:
        return None


@pytest.fixture(scope="module", autouse=True)
def real_node(kube: Kube) -> dict[str, Any]:
    """The node object; fails every test at once when a cluster started without the real node is reused."""
    names = [n["metadata"]["name"] for n in kube.items("nodes")]
    if NODE not in names:
        pytest.fail(
            f"node {NODE} is not in the cluster: it was started without the real node "
            "(restart it: make cluster-down cluster)"
        )
    node: dict[str, Any] = kube.get("node", NODE)
    return node


def test_real_node_is_ready_beside_the_kwok_pools(kube: Kube, real_node: dict[str, Any]) -> None:
    node = real_node
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True", node["status"]["conditions"]
    labels = node["metadata"]["labels"]
    assert labels["karpenter.sh/capacity-type"] == "on-demand"
    assert labels["kemr.io/real-node"] == "true"
    assert {"key": "kemr.io/real-node", "value": "true", "effect": "NoSchedule"} in node["spec"]["taints"]
    # kwok manages only the nodes annotated as fake: this one is left to its kubelet.
    assert "kwok.x-k8s.io/node" not in node["metadata"].get("annotations", {})
    assert kube.items("nodes", "-l", "type=kwok"), "the simulated pools are still there"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")


@pytest.mark.timeout(120)
def test_pod_of_the_test_image_succeeds_and_its_logs_are_readable(kube: Kube, namespace: str) -> None:
    kube.apply(_pod("hello", "echo hello from $(hostname); ip -4 -o addr show eth0"), namespace=namespace)
    phase = _finished(kube, namespace, "hello")
    logs = _logs(kube, namespace, "hello")
    assert phase == "Succeeded", logs
    assert "hello from hello" in logs
    pod = kube.get("pod", "hello", "-n", namespace)
    assert pod["spec"]["nodeName"] == NODE
    # A real address on the pod bridge, the same the pod sees on its own interface.
    assert pod["status"]["podIP"].startswith("10.244.0.")
    assert pod["status"]["podIP"] + "/" in logs


@pytest.mark.timeout(120)
def test_failing_pod_reports_its_exit_code(kube: Kube, namespace: str) -> None:
    kube.apply(_pod("fails", "echo about to fail; exit 3"), namespace=namespace)
    assert _finished(kube, namespace, "fails") == "Failed"
    state = kube.get("pod", "fails", "-n", namespace)["status"]["containerStatuses"][0]["state"]
    assert state["terminated"]["exitCode"] == 3
    assert "about to fail" in _logs(kube, namespace, "fails")


@pytest.mark.timeout(180)
def test_pod_reaches_another_pod_and_the_apiserver_through_service_names(kube: Kube, namespace: str) -> None:
    _web_server(kube, namespace, "web")
    # busybox nc, not wget: Debian's busybox-static wget crashes (segfault) even on the host.
    get = "printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port}; "
    script = "set -e; " + "".join(
        [
            get.format(path="/", host="web", port=8080),  # short name: the pod's DNS search path
            get.format(path="/", host=f"web.{namespace}.svc.cluster.local", port=8080),
            get.format(path="/version", host="kubernetes.default", port=443),  # the apiserver's Service
        ]
    )
    kube.apply(_pod("client", script), namespace=namespace)
    phase = _finished(kube, namespace, "client", timeout=90)
    logs = _logs(kube, namespace, "client")
    assert phase == "Succeeded", logs
    assert logs.count("hello-from-web") == 2, logs
    # The apiserver answered (in plain HTTP, it only tells the client to use TLS).
    assert "Client sent an HTTP request to an HTTPS server" in logs, logs


@pytest.mark.timeout(120)
def test_host_resolves_service_names_and_reaches_cluster_ips(kube: Kube, namespace: str) -> None:
    cluster_ip = _web_server(kube, namespace, "hostweb")
    name = f"hostweb.{namespace}.svc.cluster.local"
    # The host's resolver is left alone: ask the cluster DNS Service directly.
    lookup = subprocess.run(
        ["busybox", "nslookup", name, CLUSTER_DNS], capture_output=True, text=True, timeout=30
    )
    assert cluster_ip in lookup.stdout, lookup.stdout + lookup.stderr
    # kube-proxy programs a new endpoint within about a second of the pod turning Ready.
    body = wait_until(lambda: _http_get(f"http://{cluster_ip}:8080/"), 15, f"http://{cluster_ip}:8080/")
    assert body.strip() == "hello-from-hostweb"


@pytest.mark.timeout(90)
def test_simulated_pods_never_land_on_the_real_node(kube: Kube, namespace: str) -> None:
    """Pods without the real node's toleration stay off it, even when they select on-demand capacity."""
    pod = _pod("sim", "true")
    pod["spec"].pop("tolerations")
    pod["spec"]["nodeSelector"] = {"karpenter.sh/capacity-type": "on-demand"}
    kube.apply(pod, namespace=namespace)
    node = wait_until(
        lambda: kube.get("pod", "sim", "-n", namespace)["spec"].get("nodeName"), 30, "pod sim to be scheduled"
    )
    assert node != NODE
    assert node.startswith("kwok-on-demand-")


@pytest.mark.timeout(120)
def test_real_node_can_be_made_spot_capacity_and_back(kube: Kube, namespace: str) -> None:
    """cluster/node/capacity.sh: spot behaviour can be tested with real pods on spot-tainted capacity."""
    capacity = Path(__file__).resolve().parents[2] / "cluster" / "node" / "capacity.sh"
    subprocess.run([capacity, "spot"], check=True, capture_output=True)
    try:
        node = kube.get("node", NODE)
        assert node["metadata"]["labels"]["karpenter.sh/capacity-type"] == "spot"
        spot_taint = {"key": "karpenter.sh/capacity-type", "value": "spot", "effect": "NoSchedule"}
        assert spot_taint in node["spec"]["taints"]
        pod = _pod("on-spot", "echo on spot")
        pod["spec"]["nodeSelector"]["karpenter.sh/capacity-type"] = "spot"
        pod["spec"]["tolerations"].append({**spot_taint, "operator": "Equal"})
        kube.apply(pod, namespace=namespace)
        assert _finished(kube, namespace, "on-spot") == "Succeeded"
        assert kube.get("pod", "on-spot", "-n", namespace)["spec"]["nodeName"] == NODE
    finally:
        subprocess.run([capacity, "on-demand"], check=True, capture_output=True)
    node = kube.get("node", NODE)
    assert node["metadata"]["labels"]["karpenter.sh/capacity-type"] == "on-demand"
    assert all(t["key"] != "karpenter.sh/capacity-type" for t in node["spec"].get("taints", []))


@pytest.mark.timeout(120)
def test_exec_into_a_pod_on_the_real_node(kube: Kube, namespace: str) -> None:
    """kubectl exec goes apiserver → kubelet (its serving certificate, the apiserver's client certificate)."""
    _web_server(kube, namespace, "execweb")
    out = kube.run("exec", "-n", namespace, "execweb", "--", "cat", "/www/index.html").stdout
    assert out.strip() == "hello-from-execweb"
