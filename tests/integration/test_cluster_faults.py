"""A cluster that cannot start says why within a minute and ends within a bound (issue 13, kind 2), against
the local cluster's real scheduler and apiserver (kwok nodes: 32 CPUs, 128Gi each). Bootstrap actions that
exit non-zero need real containers: the pure decision is in tests/unit/test_status_cluster.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.emr import cluster, cluster_manifest, step_manifest, wait_for_state, wait_for_step
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(300)


def _message(kube: Kube, namespace: str, name: str) -> str:
    return str(
        (cluster(kube, namespace, name).get("status") or {}).get("stateChangeReason", {}).get("message", "")
    )


def test_a_master_no_node_can_fit_is_explained_then_ends_with_instance_failure(
    kube: Kube, namespace: str, spawn_operator: Callable[..., OperatorProcess], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"clusterProvisioningTimeoutSeconds": 60}))
    spawn_operator("short-provisioning", env={"KEMR_CONFIG": str(config)}).start()
    start = time.monotonic()
    kube.apply(
        cluster_manifest(
            "huge", master={"resources": {"cpu": "40", "memory": "2Gi"}, "storage": {"size": "1Gi"}}
        ),
        step_manifest("waits", "huge"),
        namespace=namespace,
    )
    wait_until(lambda: "Insufficient cpu" in _message(kube, namespace, "huge"), 60, "STARTING to say why")
    explained = time.monotonic() - start
    print(f"unschedulable master explained {explained:.1f} s after the apply")
    assert cluster(kube, namespace, "huge")["status"]["state"] == "STARTING"
    assert "pod huge-master-0: not scheduled" in _message(kube, namespace, "huge")
    wait_until(  # Events are posted in the background (apply/events.py): seconds after the status
        lambda: any(
            e["reason"] == "ProvisioningProblem"
            for e in kube.items(
                "events", "-n", namespace, "--field-selector", "involvedObject.name=huge,type=Warning"
            )
        ),
        10,
        "a Warning Event ProvisioningProblem",
    )

    ended = wait_for_state(kube, namespace, "huge", "TERMINATED_WITH_ERRORS", timeout=150)
    reason = ended["status"]["stateChangeReason"]
    assert reason["code"] == "INSTANCE_FAILURE"
    assert "not ready within 60s" in reason["message"]
    assert "Insufficient cpu" in reason["message"]
    step: dict[str, Any] = wait_for_step(kube, namespace, "waits", "CANCELLED", "FAILED")
    assert step["status"]["stateChangeReason"]["code"].startswith("CLUSTER_TERMIN")
    assert explained < 60


def test_a_child_the_apiserver_refuses_shows_as_synced_false_with_its_words_then_recovers(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-policies"},
        "spec": {"hard": {"count/networkpolicies.networking.k8s.io": "0"}},
    }
    kube.apply(quota, namespace=namespace)
    start = time.monotonic()
    kube.apply(cluster_manifest("fenced"), namespace=namespace)

    def refused() -> dict[str, Any] | None:
        conditions = (cluster(kube, namespace, "fenced").get("status") or {}).get("conditions") or []
        found = next((c for c in conditions if c["type"] == "Synced"), None)
        return found if found and found["status"] == "False" else None

    condition = wait_until(refused, 30, "Synced=False")
    print(f"refused write in status {time.monotonic() - start:.1f} s after the apply")
    assert condition["reason"] == "Forbidden"
    assert condition["message"].startswith("applying NetworkPolicy fenced")
    assert "exceeded quota: no-policies" in condition["message"]
    events = wait_until(  # Events are posted in the background (apply/events.py): seconds after the status
        lambda: kube.items(
            "events", "-n", namespace, "--field-selector", "involvedObject.name=fenced,reason=ApplyFailed"
        ),
        10,
        "a Warning Event ApplyFailed",
    )
    assert "exceeded quota" in events[0]["message"]

    kube.run("delete", "resourcequota", "no-policies", "-n", namespace)

    def synced() -> bool:
        conditions = (cluster(kube, namespace, "fenced").get("status") or {}).get("conditions") or []
        return any(c["type"] == "Synced" and c["status"] == "True" for c in conditions)

    wait_until(synced, 30, "Synced=True once the quota is gone")
    assert kube.items("networkpolicies", "-n", namespace, "-l", "kemr.io/cluster=fenced")
