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


def cluster(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.get("emrcluster", "-n", namespace, name)
    return obj


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == type_), None)


def wait_for_state(kube: Kube, namespace: str, name: str, state: str, timeout: float = 60) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        obj = cluster(kube, namespace, name)
        return obj if (obj.get("status") or {}).get("state") == state else None

    return wait_until(reached, timeout, f"EMRCluster {namespace}/{name} to be {state}")


def children(kube: Kube, namespace: str, name: str, kinds: str) -> list[dict[str, Any]]:
    return kube.items(kinds, "-n", namespace, "-l", f"kemr.io/cluster={name}")
