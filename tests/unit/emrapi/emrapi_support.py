"""Shared fixtures of the EMR API translation tests: example requests, golden files, EMRCluster objects as
the apiserver returns them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REQUESTS = HERE / "requests"
GOLDEN = HERE / "golden"
UID = "6f1c2a4e-8d3b-4c5a-9e7f-0123456789ab"
NAMESPACE = "analytics"


def load_request(name: str) -> dict[str, Any]:
    data = json.loads((REQUESTS / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


def update_requested() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"


def dump(objects: list[Any]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, width=120, allow_unicode=True)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / f"{name}.yaml"
    if update_requested():
        path.write_text(actual)
    assert path.exists(), f"no golden file {path.name}: run UPDATE_GOLDEN=1 uv run pytest tests/unit/emrapi"
    assert actual == path.read_text(), (
        f"the translation of {name} changed: review, then UPDATE_GOLDEN=1 uv run pytest tests/unit/emrapi"
    )


def created(manifest: dict[str, Any], name: str, uid: str = UID, **status: Any) -> dict[str, Any]:
    """`manifest` as the apiserver returns it once created: a name, uid and creationTimestamp, `status`."""
    obj: dict[str, Any] = json.loads(json.dumps(manifest))
    obj["metadata"].pop("generateName", None)
    obj["metadata"].update(name=name, uid=uid, creationTimestamp="2026-01-02T03:04:05Z")
    if status:
        obj["status"] = status
    return obj
