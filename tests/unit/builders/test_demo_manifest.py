"""The demo's EMRCluster with the demo's operator configuration: valid, on the real node, and small enough for
it (2 CPUs, of which the control plane and the operator use some)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kemr.api import EMRClusterSpec
from kemr.api.quantity import cpu_millis
from kemr.builders import build_children
from kemr.config import OperatorConfig
from kemr.resolve import resolve_cluster

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "manifests" / "demo"
REAL_NODE = {"kemr.io/real-node": "true"}


def _demo_pod_specs() -> list[dict[str, Any]]:
    manifest = yaml.safe_load((DEMO / "emrcluster-demo.yaml").read_text())
    config = OperatorConfig.model_validate(yaml.safe_load((DEMO / "values-local.yaml").read_text())["config"])
    spec = EMRClusterSpec.model_validate(manifest["spec"])
    resolved = resolve_cluster(manifest["metadata"]["name"], "kemr-demo", "0" * 36, spec, config)
    workloads = [c for c in build_children(resolved) if c["kind"] in ("StatefulSet", "Deployment")]
    return [w["spec"]["template"]["spec"] for w in workloads]


def test_every_demo_pod_goes_to_the_real_node() -> None:
    specs = _demo_pod_specs()
    assert len(specs) == 3  # master, core, task
    for spec in specs:
        assert spec["nodeSelector"] == REAL_NODE
        assert {"key": "kemr.io/real-node", "operator": "Exists", "effect": "NoSchedule"} in spec[
            "tolerations"
        ]


def test_the_demo_cluster_and_its_driver_request_at_most_one_cpu() -> None:
    manifest = yaml.safe_load((DEMO / "emrcluster-demo.yaml").read_text())
    driver = manifest["spec"]["steps"][0]["spark"]["driver"]["resources"]
    daemons = sum(
        cpu_millis(c["resources"]["requests"]["cpu"])
        for spec in _demo_pod_specs()
        for c in spec["containers"]
    )
    assert daemons + cpu_millis(driver["cpu"]) <= 1000
