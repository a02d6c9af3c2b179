"""EMRCluster helpers for tests: example manifests and waits on their status."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from support.kube import Kube, wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return loaded


def cluster_manifest(name: str, **spec: Any) -> dict[str, Any]:
    obj = copy.deepcopy(example("emrcluster-basic.yaml"))
    obj["metadata"] = {"name": name}
    obj["spec"].update(spec)
    return obj


def small_real_cluster(
    name: str, core_group: str = "core", core_replicas: int = 1, **spec: Any
) -> dict[str, Any]:
    """A master and a core group small enough to sit beside others' pods on the real node's 2 CPUs
    (placement on the real node comes from the operator's configuration)."""
    obj: dict[str, Any] = {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "EMRCluster",
        "metadata": {"name": name},
        "spec": {
            "release": "kemr-1.0",
            "applications": ["Spark", "HDFS"],
            "master": {"resources": {"cpu": "100m", "memory": "1Gi"}, "storage": {"size": "1Gi"}},
            "coreGroups": [
                {
                    "name": core_group,
                    "replicas": core_replicas,
                    # 2Gi: the smallest a core node takes (the Spark worker keeps 512Mi for its executors).
                    "resources": {"cpu": "100m", "memory": "2Gi"},
                    "storage": {"size": "1Gi"},
                }
            ],
            "autoTermination": {"keepAliveWhenNoSteps": True},
        },
    }
    obj["spec"].update(spec)
    return obj


def cluster(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.get("emrcluster", "-n", namespace, name)
    return obj


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == type_), None)


def wait_for_state(kube: Kube, namespace: str, name: str, state: str, timeout: float = 60) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        obj = cluster(kube, namespace, name)
        return obj if (obj.get("status") or {}).get("state") == state else None

    try:
        return wait_until(reached, timeout, f"EMRCluster {namespace}/{name} to be {state}")
    except AssertionError as err:
        raise AssertionError(f"{err}\n{diagnose(kube, namespace)}") from None


def diagnose(kube: Kube, namespace: str) -> str:
    """What a user would look at when a cluster doesn't get where it should: objects, their states, events."""
    kinds = "emrclusters,emrsteps,datacatalogs,pods,pvc"
    objects = kube.run("get", kinds, "-n", namespace, "-o", "wide", check=False).stdout
    events = kube.run("get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False).stdout
    return f"--- objects\n{objects}--- events (last 15)\n" + "\n".join(events.splitlines()[-15:])


def children(kube: Kube, namespace: str, name: str, kinds: str) -> list[dict[str, Any]]:
    return kube.items(kinds, "-n", namespace, "-l", f"kemr.io/cluster={name}")


def step_manifest(
    name: str,
    cluster_name: str,
    *,
    exit_code: str = "0",
    duration: str = "2s",
    extra_annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An EMRStep whose simulated driver (kwok) exits with `exit_code` after `duration`."""
    annotations = {
        "sim.kemr.io/exit-code": exit_code,
        "sim.kemr.io/duration": duration,
        "sim.kemr.io/message": f"Traceback: step {name} exited {exit_code}",
        **(extra_annotations or {}),
    }
    body: dict[str, Any] = {
        "clusterRef": {"name": cluster_name},
        "spark": {"mainApplicationFile": "s3a://bucket/jobs/job.py", "args": ["--day", "2026-11-22"]},
        "podOverrides": {"metadata": {"annotations": annotations}},
        **spec,
    }
    return {"apiVersion": "kemr.io/v1alpha1", "kind": "EMRStep", "metadata": {"name": name}, "spec": body}


def step(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.get("emrstep", "-n", namespace, name)
    return obj


def wait_for_step(kube: Kube, namespace: str, name: str, *states: str, timeout: float = 60) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        obj = step(kube, namespace, name)
        return obj if (obj.get("status") or {}).get("state") in states else None

    return wait_until(reached, timeout, f"EMRStep {namespace}/{name} to be {'/'.join(states)}")
