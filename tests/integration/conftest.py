"""The operator running as a process against the local cluster, with kemr's CRDs installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.kube import Kube
from support.operator import OperatorProcess

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def crds(kube: Kube) -> Kube:
    kube.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    kube.run("wait", "--for=condition=Established", "crd/emrclusters.kemr.io", "crd/emrsteps.kemr.io")
    return kube


@pytest.fixture(scope="session")
def operator(crds: Kube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    proc = OperatorProcess(crds.kubeconfig, log)
    proc.start()
    yield proc
    proc.stop()
    print(f"operator log: {log}")
