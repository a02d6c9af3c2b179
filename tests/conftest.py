"""Session fixtures: the local cluster (reused if running, else started and stopped), per-test namespaces."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.helm import chart_identity
from support.kube import Kube
from support.operator import WEBHOOK_RELEASE, OperatorProcess, kill_leftovers, log_sizes, rbac_denials

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

    def spawn(name: str, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> OperatorProcess:
        proc = OperatorProcess(operator.kubeconfig, tmp_path / f"{name}.log", extra_args=args, env=env)
        spawned.append(proc)
        return proc

    yield spawn
    for proc in spawned:  # gracefully, so the Lease is released for the next operator at once
        try:
            proc.stop()
        except Exception:
            proc.kill()
    operator.start()


@pytest.fixture(autouse=True)
def forbidden_calls_fail_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test during which an operator was denied a call by RBAC fails, naming the call: the chart's rules
    must allow everything the operator does."""
    used = {"operator", "spawn_operator", "real_node_operator"} & set(request.fixturenames)
    if not used or request.node.get_closest_marker("rbac_denials_expected"):
        yield
        return
    before = log_sizes()
    yield
    denials = rbac_denials(before)
    assert not denials, "the operator was denied calls the chart must allow:\n" + "\n".join(denials)


OPERATOR_NAMESPACE = "kemr-tests"  # where the tests' operators hold their Lease (POD_NAMESPACE)


@pytest.fixture(scope="session")
def operator(crds: Kube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """The operator running as a process (`kemr run`) against the local cluster, as the Helm chart's
    ServiceAccount with exactly the chart's rules (plus the service proxy a host process needs): a call the
    chart doesn't allow fails the test that made it (see `forbidden_calls_fail_the_test`). Every operator a
    test starts from it (spawn_operator, the e2e one) authenticates the same way."""
    workdir = tmp_path_factory.mktemp("operator")
    kubeconfig = chart_identity(crds, workdir / "kubeconfig", namespace=OPERATOR_NAMESPACE)
    os.environ["POD_NAMESPACE"] = OPERATOR_NAMESPACE  # inherited by every operator process of the session
    log = workdir / "operator.log"
    proc = OperatorProcess(kubeconfig, log)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        kill_leftovers()
        # Its webhook configuration calls this host's port: it goes with the session's operators.
        crds.run(
            "delete", "validatingwebhookconfiguration", WEBHOOK_RELEASE, "--ignore-not-found", check=False
        )
        print(f"operator log: {log}")
