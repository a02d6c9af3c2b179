"""The Helm chart as a user renders and installs it: helm and kubectl from the local cluster's cache."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kemr"
GOLDEN = Path(__file__).resolve().parent / "golden"
MONITORING_API = "monitoring.coreos.com/v1"


def _cluster_env() -> dict[str, str]:
    """KUBECONFIG from cluster/env.sh; helm's versioned path from cluster/lib.sh (`make cluster-build`
    builds it, before the cluster's `current` links exist)."""
    out = subprocess.run([REPO / "cluster" / "env.sh"], capture_output=True, text=True, check=True).stdout
    env = dict(re.findall(r"^export (KEMR_BIN|KUBECONFIG)=(\S+)$", out, re.M))
    lib = REPO / "cluster" / "lib.sh"
    script = f'. "{lib}"; printf %s "$HELM_BIN/helm"'
    env["HELM"] = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    return env


ENV = _cluster_env()
HELM = ENV["HELM"]
KUBECONFIG = ENV["KUBECONFIG"]


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if not Path(HELM).exists():
        raise AssertionError(f"{HELM} is missing: `make cluster-build` builds it")
    proc = subprocess.run(
        [HELM, f"--kubeconfig={KUBECONFIG}", *args], capture_output=True, text=True, timeout=120
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def values_args(values: dict[str, Any] | None) -> list[str]:
    """`--set-json` for each top-level value (exact types, no string guessing)."""
    import json

    return [
        arg for key, value in (values or {}).items() for arg in ("--set-json", f"{key}={json.dumps(value)}")
    ]


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
