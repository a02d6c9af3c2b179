"""The Helm chart as a user renders and installs it: helm and kubectl from the local cluster's cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from support.helm import CHART, KUBECONFIG, REPO, helm, values_args

__all__ = ["CHART", "KUBECONFIG", "REPO", "helm", "values_args"]

GOLDEN = Path(__file__).resolve().parent / "golden"
MONITORING_API = "monitoring.coreos.com/v1"


def render_text(
    values: dict[str, Any] | None = None,
    namespace: str = "kemr-system",
    release: str = "kemr",
    extra: tuple[str, ...] = (),
) -> str:
    return helm(
        "template", release, str(CHART), "--namespace", namespace, *values_args(values), *extra
    ).stdout


def render(
    values: dict[str, Any] | None = None,
    namespace: str = "kemr-system",
    release: str = "kemr",
    extra: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    docs = yaml.safe_load_all(render_text(values, namespace, release, extra))
    return [d for d in docs if d]


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [obj] = [o for o in objects if o["kind"] == kind]
    return obj


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]
