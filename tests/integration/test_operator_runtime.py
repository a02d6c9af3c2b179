"""The operator process: one leader at a time, metrics, graceful stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.emr import cluster_manifest, wait_for_state
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def paused(operator: OperatorProcess) -> Iterator[OperatorProcess]:
    operator.stop()
    yield operator
    operator.start()


def test_only_the_leader_reconciles_and_a_standby_takes_over(
    paused: OperatorProcess, kube: Kube, namespace: str, tmp_path: Path
) -> None:
    first = OperatorProcess(paused.kubeconfig, tmp_path / "first.log")
    second = OperatorProcess(paused.kubeconfig, tmp_path / "second.log")
    first.start()
    wait_until(lambda: "reconciling" in first.log_path.read_text(), 30, "the first operator to lead")
    second.start()
    wait_until(
        lambda: "waiting to become the leader" in second.log_path.read_text(), 30, "the second to wait"
    )
    kube.apply(cluster_manifest("one"), namespace=namespace)
    wait_for_state(kube, namespace, "one", "WAITING")
    assert "one" not in second.log_path.read_text(), "a standby must not reconcile"
    assert 'kemr_reconciles_total{kind="EMRCluster",result="ok"}' in first.metrics()

    first.stop()  # a graceful stop releases the Lease: the standby leads within a renew period
    wait_until(lambda: "reconciling" in second.log_path.read_text(), 20, "the standby to take over")
    kube.apply(cluster_manifest("two"), namespace=namespace)
    wait_for_state(kube, namespace, "two", "WAITING")
    second.stop()
