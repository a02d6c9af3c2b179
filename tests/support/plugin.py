"""`kubectl emr` as a user runs it: kubectl finds the kubectl-emr plugin on the PATH (the venv's bin)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.kube import Kube

VENV_BIN = Path(sys.executable).parent


def plugin_env(kube: Kube | None = None) -> dict[str, str]:
    """The environment with the venv's bin first on PATH (and the cluster's kubeconfig when given)."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if kube is not None:
        env["KUBECONFIG"] = str(kube.kubeconfig)
    return env


def kubectl_emr(kube: Kube, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**plugin_env(kube), "NO_COLOR": ""}
    proc = subprocess.run(
        [kube.kubectl_bin, "emr", *args], capture_output=True, text=True, env=env, timeout=60
    )
    if check:
        assert proc.returncode == 0, f"kubectl emr {' '.join(args)}: {proc.stderr}"
    return proc
