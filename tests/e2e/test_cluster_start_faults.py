"""A bootstrap action that exits non-zero, on the real node (init containers need real containers): the
cluster ends TERMINATED_WITH_ERRORS with BOOTSTRAP_FAILURE, the message naming the action, its exit code, the
pod and the action's own last words (issue 13, kind 2)."""

from __future__ import annotations

import pytest

from support import emr
from support.kube import Kube
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(300)


def test_a_failing_bootstrap_action_ends_the_cluster_with_bootstrap_failure(
    kube: Kube, namespace: str, real_node_operator: OperatorProcess
) -> None:
    del real_node_operator
    failing = {
        "name": "deps",
        "script": "/bin/sh",
        "args": ["-c", "echo 'pip: command not found' >&2; exit 3"],
    }
    kube.apply(emr.small_real_cluster("boot", bootstrapActions=[failing]), namespace=namespace)
    ended = emr.wait_for_state(kube, namespace, "boot", "TERMINATED_WITH_ERRORS", timeout=180)
    reason = ended["status"]["stateChangeReason"]
    assert reason["code"] == "BOOTSTRAP_FAILURE"
    assert "bootstrap action deps exited with code 3 in pod boot-" in reason["message"]
    assert "pip: command not found" in reason["message"]
    assert "spec.bootstrapActions" in reason["message"]
    assert not kube.items("pods", "-n", namespace, "-l", "kemr.io/cluster=boot,kemr.io/role in (master,core)")
