"""The operator process: one leader at a time, metrics, graceful stop."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from support.emr import cluster_manifest, wait_for_state
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(240)


def test_only_the_leader_reconciles_and_a_standby_takes_over(
    spawn_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str
) -> None:
    first, second = spawn_operator("first"), spawn_operator("second")
    first.start()
    wait_until(lambda: "reconciling" in first.log_path.read_text(), 30, "the first operator to lead")
    second.start()
    wait_until(
        lambda: "waiting to become the leader" in second.log_path.read_text(), 30, "the second to wait"
    )
    kube.apply(cluster_manifest("one"), namespace=namespace)
    wait_for_state(kube, namespace, "one", "WAITING")
    assert f"{namespace}/one: applied" in first.log_path.read_text()
    assert f"{namespace}/one: applied" not in second.log_path.read_text(), "a standby must not reconcile"
    assert 'kemr_reconciles_total{kind="EMRCluster",result="ok"}' in first.metrics()

    first.stop()  # a graceful stop releases the Lease: the standby leads within a renew period
    wait_until(lambda: "reconciling" in second.log_path.read_text(), 20, "the standby to take over")
    kube.apply(cluster_manifest("two"), namespace=namespace)
    wait_for_state(kube, namespace, "two", "WAITING")
    second.stop()


@pytest.mark.rbac_denials_expected
def test_an_operator_that_cannot_take_its_lease_says_so_and_is_unhealthy(
    spawn_operator: Callable[..., OperatorProcess],
) -> None:
    """Its Lease namespace is one the chart's Role doesn't cover: every try is a 403. The operator keeps
    trying, logs why, counts it, and fails /healthz: never a healthy-looking idle operator (issue 13: 7)."""
    lost = spawn_operator("no-lease", env={"POD_NAMESPACE": "kemr-no-such-namespace"})
    lost.start(wait_healthy=False)
    wait_until(lambda: lost.health_status() == 500, 30, "/healthz to fail")
    log = lost.log_path.read_text()
    assert "leader election: cannot read or take the Lease kemr-no-such-namespace/kemr-operator" in log
    assert 'cannot get resource "leases"' in log
    errors = next(
        line for line in lost.metrics().splitlines() if line.startswith("kemr_leader_election_errors_total ")
    )
    assert float(errors.split()[1]) >= 1
    assert "kemr_leader 0.0" in lost.metrics()
    assert "reconciling" not in log


def _replicas(kube: Kube, namespace: str, name: str) -> int:
    return int(kube.get("statefulset", "-n", namespace, name)["spec"]["replicas"])


def test_a_child_changed_by_hand_is_restored_at_once_and_after_a_restart_within_the_resync(
    spawn_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str
) -> None:
    operator = spawn_operator("drift", args=("--resync-seconds=8",))
    operator.start()
    kube.apply(cluster_manifest("drift"), namespace=namespace)
    wait_for_state(kube, namespace, "drift", "WAITING")
    # The master's StatefulSet (a core one scaled up by hand would now hold DataNodes: it shrinks back only
    # through their decommission, tests/integration/test_scaling.py).
    assert _replicas(kube, namespace, "drift-master") == 1

    started = time.monotonic()
    kube.run("scale", "statefulset", "drift-master", "-n", namespace, "--replicas=3")
    wait_until(lambda: _replicas(kube, namespace, "drift-master") == 1, 10, "the StatefulSet restored")
    print(f"hand-scaled StatefulSet restored in {time.monotonic() - started:.1f} s")

    operator.stop()  # changed while no operator runs: a new process can't know, until its full re-apply
    kube.run("scale", "statefulset", "drift-master", "-n", namespace, "--replicas=2")
    later = spawn_operator("drift-again", args=("--resync-seconds=8",))
    later.start()
    started = time.monotonic()
    wait_until(lambda: _replicas(kube, namespace, "drift-master") == 1, 30, "restored by the resync")
    print(f"after a restart: restored in {time.monotonic() - started:.1f} s (resync 8 s)")
