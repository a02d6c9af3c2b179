"""Session fixtures: the local cluster (reused if running, else started and stopped), per-test namespaces."""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.kube import Kube
from support.operator import OperatorProcess, kill_leftovers

REPO = Path(__file__).resolve().parent.parent
CLUSTER_DIR = REPO / "cluster"


def _cluster_env() -> dict[str, str]:
    out = subprocess.run([CLUSTER_DIR / "env.sh"], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^export (KEMR_BIN|KUBECONFIG)=(\S+)$", out, re.M))


@pytest.fixture(scope="session")
def kube(pytestconfig: pytest.Config) -> Iterator[Kube]:
    """The local cluster. A running one is reused and left running; otherwise it is started for this session
    (building what is missing, with progress shown) and stopped at the end."""
    env = _cluster_env()
    client = Kube(kubeconfig=Path(env["KUBECONFIG"]), kubectl_bin=str(Path(env["KEMR_BIN"]) / "kubectl"))
    if client.is_up():
        yield client
        return
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        subprocess.run([CLUSTER_DIR / "up.sh"], check=True)
    try:
        yield client
    finally:
        with capture.global_and_fixture_disabled():
            subprocess.run([CLUSTER_DIR / "down.sh"], check=True)


@pytest.fixture
def namespace(kube: Kube, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    base = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    name = f"t-{base}-{secrets.token_hex(3)}"
    kube.run("create", "namespace", name)
    yield name
    kube.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def crds(kube: Kube) -> Kube:
    """The cluster with kemr's CRDs and admission policy installed, as a user installs them."""
    kube.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    kube.run("wait", "--for=condition=Established", "crd/emrclusters.kemr.io", "crd/emrsteps.kemr.io")
    return kube


@pytest.fixture
def spawn_operator(operator: OperatorProcess, tmp_path: Path) -> Iterator[Callable[..., OperatorProcess]]:
    """Extra operator processes for one test (the shared one is stopped meanwhile); all stopped after it."""
    operator.stop()
    spawned: list[OperatorProcess] = []

    def spawn(name: str, env: dict[str, str] | None = None) -> OperatorProcess:
        proc = OperatorProcess(operator.kubeconfig, tmp_path / f"{name}.log", env=env)
        spawned.append(proc)
        return proc

    yield spawn
    for proc in spawned:  # gracefully, so the Lease is released for the next operator at once
        try:
            proc.stop()
        except Exception:
            proc.kill()
    operator.start()


@pytest.fixture(scope="session")
def operator(crds: Kube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """The operator running as a process (`kemr run`) against the local cluster."""
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    proc = OperatorProcess(crds.kubeconfig, log)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        kill_leftovers()
        print(f"operator log: {log}")
