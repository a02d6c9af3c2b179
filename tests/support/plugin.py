"""`kubectl emr` as a user runs it: kubectl finds the kubectl-emr plugin on the PATH (the venv's bin)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def kubectl_emr_forward(kube: Kube, *args: str, log: Path) -> Iterator[str]:
    """`kubectl emr ui|notebook ...` as a user runs it: the URL it prints, while it forwards. Its stderr
    (kubectl's errors, the plugin's restarts of the forward) goes to `log`, a file rather than a pipe nobody
    reads, so a long forward can't block on it. Raises AssertionError naming the command when no URL comes."""
    command = [kube.kubectl_bin, "emr", *args]
    with log.open("w") as err:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err, text=True, env=plugin_env(kube)
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            url = line.rsplit(": ", 1)[-1].strip()
            if not url.startswith("http://"):
                process.kill()
                process.wait()
                said = log.read_text()
                raise AssertionError(f"kubectl emr {' '.join(args)} printed no URL: {line!r} {said}")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)
