"""Pods on the real node reach the host's S3 server by the stable name the EMRCluster manifests use."""

from __future__ import annotations

from typing import Any

import pytest

from support.kube import Kube, wait_until
from support.s3 import LocalS3

BUSYBOX = "kemr.local/busybox:test"  # cluster/node/images.sh


def _probe_pod(host: str, port: str) -> dict[str, Any]:
    # busybox nc, not wget (Debian's static busybox wget segfaults): raw HTTP to MinIO's health check.
    request = f"printf 'GET /minio/health/live HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n' | nc {host} {port}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "s3-probe"},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"kemr.io/real-node": "true"},
            "tolerations": [{"key": "kemr.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [
                {
                    "name": "probe",
                    "image": BUSYBOX,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", request],
                }
            ],
        },
    }


@pytest.mark.timeout(120)
def test_a_pod_on_the_real_node_reaches_s3_through_its_service(
    kube: Kube, namespace: str, real_node: str, s3: LocalS3
) -> None:
    del real_node
    host, port = s3.cluster_endpoint.removeprefix("http://").rsplit(":", 1)
    kube.apply(_probe_pod(host, port), namespace=namespace)

    def finished() -> str | None:
        phase = kube.get("pod", "-n", namespace, "s3-probe")["status"].get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    assert wait_until(finished, 90, "the probe pod to finish") == "Succeeded"
    output = kube.run("logs", "-n", namespace, "s3-probe").stdout
    assert output.splitlines()[0].split()[1] == "200", output  # "HTTP/1.0 200 OK": MinIO is alive
