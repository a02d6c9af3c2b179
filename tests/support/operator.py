"""The operator as a real process (`kemr run`) against the local cluster, which tests can kill and restart."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# Every operator process a test started: the session kills those still running at its end, so no operator
# outlives the tests (two operators at once would fight over the same objects).
STARTED: list[subprocess.Popen[bytes]] = []
# Every operator process object, for the check that no call of theirs was forbidden by RBAC.
INSTANCES: list[OperatorProcess] = []
# How the apiserver words an RBAC denial (not an admission refusal such as "is forbidden: exceeded quota").
RBAC_DENIAL = re.compile(r'cannot \w+ resource "[^"]+"')


def rbac_denials(since: dict[Path, int]) -> list[str]:
    """RBAC denials the operators logged after the given log sizes (a log not in `since`: from its start)."""
    found = []
    for proc in INSTANCES:
        path = proc.log_path
        if not path.exists():
            continue
        with path.open("rb") as f:
            f.seek(since.get(path, 0))
            text = f.read().decode(errors="replace")
        found += [f"{path}: {line.strip()}" for line in text.splitlines() if RBAC_DENIAL.search(line)]
    return found


def log_sizes() -> dict[Path, int]:
    return {p.log_path: p.log_path.stat().st_size for p in INSTANCES if p.log_path.exists()}


def kill_leftovers() -> None:
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stable_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999), so that no free_port() of a later operator
    (nor an outgoing connection) is handed the same number while this one is unbound between operators."""
    for port in random.sample(range(20000, 32000), 200):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


# The session's operators serve the admission webhook on one port (each in turn, or two at once with
# SO_REUSEPORT), which the webhook configuration chart_identity installs calls on the loopback address.
WEBHOOK_PORT = _stable_port()
WEBHOOK_RELEASE = "kemr-tests"  # the chart release whose RBAC, Secret name and webhook configuration they use


def webhook_args(release: str = WEBHOOK_RELEASE, port: int = WEBHOOK_PORT) -> tuple[str, ...]:
    """`kemr run` flags for the webhook as the chart passes them (its Service name aside)."""
    return (
        f"--webhook-port={port}",
        f"--webhook-configuration={release}",
        f"--webhook-secret={release}-webhook-cert",
    )


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig, self.log_path, self.extra_args = kubeconfig, log_path, extra_args
        self.env = {**os.environ, **(env or {})}
        self.metrics_port, self.health_port = free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        INSTANCES.append(self)

    def start(self, wait_healthy: bool = True) -> None:
        """Starts the process and waits until /healthz answers 200 (`wait_healthy=False`: answers at all)."""
        cmd = [
            sys.executable,
            "-m",
            "kemr.cli",
            "run",
            f"--kubeconfig={self.kubeconfig}",
            f"--metrics-port={self.metrics_port}",
            f"--health-port={self.health_port}",
            *self.extra_args,
        ]
        if not any(a.startswith("--webhook-port") for a in self.extra_args):
            cmd += webhook_args()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        STARTED.append(self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self.proc.returncode}; log: {self.log_path}")
            status = self.health_status()
            if status == 200 or (status is not None and not wait_healthy):
                return
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"operator not healthy after 30s; log: {self.log_path}")

    def health_status(self) -> int | None:
        """The HTTP status of /healthz, or None when nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1) as r:
                return int(r.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return None

    def healthy(self) -> bool:
        return self.health_status() == 200

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text: str = r.read().decode()
            return text

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as when a node dies."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, as Kubernetes stops a pod; the operator must exit by itself."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
