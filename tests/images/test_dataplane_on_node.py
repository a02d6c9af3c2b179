"""The data-plane image on the real node (kubelet + containerd): a pod as restricted as kemr's own runs the
contract's checks and its logs are readable. Skipped while no real node is Ready."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from image_files import IMAGES, archive, image_lib

from support.kube import Kube, wait_until

REAL_NODE_LABEL = "kemr.io/real-node"
# The contract's "Checking an image", plus the versions the release pins.
CHECKS = """
set -eux
java -version
python3 -c 'import pyspark, sys; print("pyspark", pyspark.__version__, sys.version.split()[0])'
hdfs version
spark-submit --version
ls "$SPARK_HOME"/jars/hadoop-aws-*.jar "$SPARK_HOME"/jars/spark-hadoop-cloud_*.jar
ls "$HADOOP_HOME"/share/hadoop/common/lib/hadoop-aws-*.jar
ls "$HADOOP_HOME"/share/hadoop/hdfs/webapps/hdfs/index.html
"""


def ready_real_nodes(kube: Kube) -> list[str]:
    nodes = kube.items("nodes", "-l", f"{REAL_NODE_LABEL}=true")
    return [
        n["metadata"]["name"]
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
    ]


def check_pod(image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "image-check"},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {REAL_NODE_LABEL: "true"},
            "tolerations": [
                {"key": REAL_NODE_LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
            ],
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 185,
                "runAsGroup": 185,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "check",
                    "image": image,
                    "imagePullPolicy": "Never",  # imported by images/import.sh; no registry is reachable
                    "command": ["bash", "-c", CHECKS],
                    "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


@pytest.mark.timeout(600)
def test_dataplane_image_on_node(kube: Kube, namespace: str) -> None:
    if not ready_real_nodes(kube):
        pytest.skip(f"no Ready node labelled {REAL_NODE_LABEL}=true (is the real node off? KEMR_REAL_NODE)")
    if not archive("spark").exists():
        pytest.fail("the data-plane image is not built: run `make images` (make test builds it)")
    subprocess.run([IMAGES / "import.sh", "spark"], check=True)
    image = image_lib("$SPARK_IMAGE")

    kube.apply(check_pod(image), namespace=namespace)

    def finished() -> str | None:
        phase: str | None = kube.get("pod", "image-check", "-n", namespace)["status"].get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_until(finished, 300, "the image-check pod to finish", interval=2)
    logs = kube.run("logs", "image-check", "-n", namespace).stdout
    assert phase == "Succeeded", f"the image's checks failed:\n{logs}"
    assert 'openjdk version "17.' in logs
    assert "pyspark 3.5.9" in logs
    assert "Hadoop 3.3.6" in logs
    assert "version 3.5.9" in logs  # spark-submit --version's banner
