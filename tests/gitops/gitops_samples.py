"""The Argo CD health test cases (gitops/argocd/resource_customizations/kemr.io/*/health_test.yaml) and their
sample objects, read as Argo CD reads them."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CUSTOMIZATIONS = REPO / "gitops" / "argocd" / "resource_customizations"
KINDS = ("EMRCluster", "EMRStep", "DataCatalog")
BUILD_GO_TOOL = REPO / "gitops" / "build-go-tool.sh"


class _JsonLikeLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: timestamps stay strings (they are strings in the API's JSON)."""


_JsonLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_JsonLikeLoader)


@dataclass(frozen=True)
class HealthCase:
    kind: str
    input_path: Path
    status: str
    message: str

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.input_path.stem}"

    def object(self) -> dict[str, Any]:
        obj: dict[str, Any] = load_yaml(self.input_path)
        return obj


def kind_dir(kind: str) -> Path:
    return CUSTOMIZATIONS / "kemr.io" / kind


def health_cases(kind: str) -> list[HealthCase]:
    """Every case of the kind's health_test.yaml, in Argo CD's format (tests: [{inputPath, healthStatus}])."""
    spec = load_yaml(kind_dir(kind) / "health_test.yaml")
    return [
        HealthCase(
            kind=kind,
            input_path=kind_dir(kind) / test["inputPath"],
            status=test["healthStatus"]["status"],
            message=test["healthStatus"].get("message", ""),
        )
        for test in spec["tests"]
    ]


def all_cases() -> list[HealthCase]:
    return [case for kind in KINDS for case in health_cases(kind)]


def build_go_tool(tool: str) -> Path:
    """A gitops/ Go tool's binary (kstatus-check, argocd/gopher-lua-check), built first if its source changed.
    The build's progress goes to the terminal (stderr is not captured)."""
    out = subprocess.run(
        [BUILD_GO_TOOL, tool], stdout=subprocess.PIPE, text=True, check=True, timeout=600
    ).stdout
    return Path(out.strip().splitlines()[-1])
