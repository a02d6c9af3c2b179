"""Golden files of the builders: the exact manifests for example EMRClusters, as YAML.

`UPDATE_GOLDEN=1 uv run pytest tests/unit/builders` rewrites them; review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from kemr.api import EMRClusterSpec
from kemr.builders import build_children
from kemr.config import OperatorConfig
from kemr.resolve import ResolvedCluster, resolve_cluster

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GOLDEN = HERE / "golden"
UID = "6f1c2a4e-8d3b-4c5a-9e7f-0123456789ab"
DEFAULT_NAMESPACE = "analytics"

# name of the golden file -> the EMRCluster manifest it pins
EXAMPLES: dict[str, Path] = {
    "basic": REPO / "manifests" / "examples" / "emrcluster-basic.yaml",
    "full": HERE / "examples" / "full.yaml",
    "spark-only": HERE / "examples" / "spark-only.yaml",
    "hive": HERE / "examples" / "hive.yaml",
    "trino": HERE / "examples" / "trino.yaml",
}


def load_example(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return doc


def resolve_example(path: Path, config: OperatorConfig | None = None, **kwargs: Any) -> ResolvedCluster:
    doc = load_example(path)
    meta = doc["metadata"]
    spec = EMRClusterSpec.model_validate(doc["spec"])
    namespace = meta.get("namespace", DEFAULT_NAMESPACE)
    return resolve_cluster(meta["name"], namespace, UID, spec, config or OperatorConfig(), **kwargs)


class _GoldenDumper(yaml.SafeDumper):
    """Multi-line strings (the ConfigMaps' files) as literal blocks, so a golden diff reads like the file."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_GoldenDumper.add_representer(str, _str)


def dump(objects: list[dict[str, Any]]) -> str:
    return yaml.dump_all(objects, Dumper=_GoldenDumper, sort_keys=False, width=120, allow_unicode=True)


def render_example(name: str) -> str:
    source = EXAMPLES[name].relative_to(REPO)
    header = f"# Golden: build_children() of {source}. UPDATE_GOLDEN=1 regenerates.\n"
    return header + dump(build_children(resolve_example(EXAMPLES[name])))


def update_requested() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"


def small_spec(**fields: Any) -> EMRClusterSpec:
    """A one-core-group, one-task-group spec, with `fields` (camelCase, as in a manifest) on top."""
    base: dict[str, Any] = {
        "coreGroups": [{"name": "core", "replicas": 2}],
        "taskGroups": [{"name": "spot", "minReplicas": 1, "maxReplicas": 4}],
    }
    return EMRClusterSpec.model_validate({**base, **fields})


def resolve_spec(
    spec: EMRClusterSpec, config: OperatorConfig | None = None, **kwargs: Any
) -> ResolvedCluster:
    return resolve_cluster("sales", DEFAULT_NAMESPACE, UID, spec, config or OperatorConfig(), **kwargs)


def children_by_key(resolved: ResolvedCluster) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in build_children(resolved)}


def pod_spec(child: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = child["spec"]["template"]["spec"]
    return spec


def container(child: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod_spec(child)["containers"] if c["name"] == name)
