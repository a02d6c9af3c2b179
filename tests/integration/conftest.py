"""Fixtures of the integration tests (the operator as a process, on the kwok pools)."""

from __future__ import annotations

import pytest

from support.emr import cluster_manifest, wait_for_state
from support.kube import Kube
from support.operator import OperatorProcess


@pytest.fixture
def ready_cluster(operator: OperatorProcess, kube: Kube, namespace: str) -> str:
    """An EMRCluster `etl` (manifests/examples/emrcluster-basic.yaml) in the test's namespace, WAITING."""
    kube.apply(cluster_manifest("etl"), namespace=namespace)
    wait_for_state(kube, namespace, "etl", "WAITING")
    return "etl"
