"""`kubectl emr` as a user runs it: the real kubectl finds the kubectl-emr plugin on the PATH (the venv's bin)
and runs it against the local cluster, with the operator running.

Driver pods run on kwok nodes, which have no kubelet and so no logs: `kubectl emr logs` is tested here for its
error (naming the pod); reading a real driver log needs the real node.
"""

from __future__ import annotations

import subprocess

import pytest

from support.emr import cluster_manifest, wait_for_state, wait_for_step
from support.kube import Kube, wait_until
from support.operator import OperatorProcess
from support.plugin import kubectl_emr, plugin_env

pytestmark = pytest.mark.timeout(180)

# kwok ends a driver pod as these annotations say (cluster/manifests/kwok-stages.yaml).
SIMULATE = ["--annotation", "sim.kemr.io/exit-code=0", "--annotation", "sim.kemr.io/duration=2s"]


@pytest.fixture
def etl(operator: OperatorProcess, kube: Kube, namespace: str) -> str:
    kube.apply(cluster_manifest("etl"), namespace=namespace)
    wait_for_state(kube, namespace, "etl", "WAITING")
    return "etl"


def test_kubectl_finds_the_plugin(kube: Kube) -> None:
    env = plugin_env()
    listed = subprocess.run([kube.kubectl_bin, "plugin", "list"], capture_output=True, text=True, env=env)
    assert "kubectl-emr" in listed.stdout


def test_list_clusters(kube: Kube, namespace: str, etl: str) -> None:
    out = kubectl_emr(kube, "list", "-n", namespace).stdout.splitlines()
    assert out[0].split() == ["NAME", "STATE", "READY", "GROUPS", "STEPS", "AGE"]
    assert out[1].split()[:3] == ["etl", "WAITING", "2/3"]
    everywhere = kubectl_emr(kube, "list", "-A").stdout.splitlines()
    assert everywhere[0].startswith("NAMESPACE")
    assert any(line.split()[:2] == [namespace, "etl"] for line in everywhere)


def test_add_step_then_list_and_describe(kube: Kube, namespace: str, etl: str) -> None:
    created = kubectl_emr(
        kube, "add-step", etl, "-n", namespace, "--name", "daily", "--type", "pyspark",
        "--file", "s3://bucket/jobs/daily.py", *SIMULATE, "--", "--day", "2026-11-22",
    )  # fmt: skip
    assert created.stdout.strip() == "emrstep.kemr.io/daily created"
    step = kube.get("emrstep", "-n", namespace, "daily")
    assert step["spec"]["spark"]["mainApplicationFile"] == "s3://bucket/jobs/daily.py"
    assert step["spec"]["spark"]["args"] == ["--day", "2026-11-22"]  # what followed --
    wait_for_step(kube, namespace, "daily", "COMPLETED")

    steps = kubectl_emr(kube, "steps", etl, "-n", namespace).stdout.splitlines()
    assert steps[1].split()[:4] == ["daily", "etl", "COMPLETED", "1"]

    def without_age(out: str) -> list[list[str]]:
        return [line.split()[:-1] for line in out.splitlines()]

    listed = kubectl_emr(kube, "list", "steps", "-n", namespace).stdout
    assert without_age(listed) == without_age(kubectl_emr(kube, "steps", "-n", namespace).stdout)

    described = kubectl_emr(kube, "describe", etl, "-n", namespace).stdout
    for expected in (
        "State:        WAITING",
        "Conditions:",
        "Ready ",
        "Steps:",
        "Timeline:",
        "Waiting: STARTING → WAITING",
    ):
        assert expected in described, described
    assert any(line.split()[:3] == ["daily", "etl", "COMPLETED"] for line in described.splitlines())


def test_failed_step_shows_its_failure(kube: Kube, namespace: str, etl: str) -> None:
    kubectl_emr(
        kube, "add-step", etl, "-n", namespace, "--name", "broken", "--type", "sql", "--query", "SELECT 1",
        "--annotation", "sim.kemr.io/exit-code=2",
        "--annotation", "sim.kemr.io/message=AnalysisException: no table",
        "--annotation", "sim.kemr.io/duration=2s",
    )  # fmt: skip
    wait_for_step(kube, namespace, "broken", "FAILED")
    step = kubectl_emr(kube, "describe-step", "broken", "-n", namespace).stdout
    assert "Failure:      STEP_FAILURE: AnalysisException: no table" in step
    assert "broken-attempt-1" in step
    assert "Warning Failed: RUNNING → FAILED" in step
    cluster = kubectl_emr(kube, "describe", etl, "-n", namespace).stdout
    assert "broken failed: STEP_FAILURE: AnalysisException: no table" in cluster


def test_add_step_errors_name_the_fix(kube: Kube, namespace: str, etl: str) -> None:
    missing = kubectl_emr(
        kube, "add-step", etl, "-n", namespace, "--name", "x", "--type", "pyspark", check=False
    )
    assert missing.returncode == 1
    assert "--type pyspark needs --file" in missing.stderr
    # The API server's own validation (here: the name) comes back as it is.
    bad_name = kubectl_emr(
        kube,
        "add-step",
        etl,
        "-n",
        namespace,
        "--name",
        "Bad_Name",
        "--type",
        "command",
        "--",
        "ls",
        check=False,
    )
    assert bad_name.returncode == 1
    assert "Bad_Name" in bad_name.stderr
    nowhere = kubectl_emr(
        kube, "add-step", "nope", "-n", namespace, "--name", "x", "--type", "command", "--", "ls", check=False
    )
    assert 'EMRCluster "nope" not found' in nowhere.stderr


def test_logs_on_a_simulated_node_names_the_pod(kube: Kube, namespace: str, etl: str) -> None:
    kubectl_emr(
        kube, "add-step", etl, "-n", namespace, "--name", "long", "--type", "command",
        "--annotation", "sim.kemr.io/duration=10m", "--", "sleep", "600",
    )  # fmt: skip
    wait_for_step(kube, namespace, "long", "RUNNING")
    wait_until(lambda: kube.items("pods", "-n", namespace, "-l", "kemr.io/step=long"), 30, "the driver pod")
    logs = kubectl_emr(kube, "logs", "long", "-n", namespace, check=False)
    assert logs.returncode == 1
    assert f"driver pod {namespace}/long-attempt-1 (attempt 1 of step long)" in logs.stderr
    wrong = kubectl_emr(kube, "logs", "long", "-n", namespace, "--attempt", "4", check=False)
    assert "has attempts 1..1, not 4" in wrong.stderr


def test_terminate(kube: Kube, namespace: str, etl: str) -> None:
    kube.run(
        "patch",
        "emrcluster",
        etl,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"terminationProtected":true}}',
    )
    refused = kubectl_emr(kube, "terminate", etl, "-n", namespace, check=False)
    assert refused.returncode == 1
    assert "termination-protected" in refused.stderr
    assert '"terminationProtected":false' in refused.stderr  # the command that lifts it
    assert not kube.get("emrcluster", "-n", namespace, etl)["spec"].get("terminate")

    kube.run(
        "patch",
        "emrcluster",
        etl,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"terminationProtected":false}}',
    )
    assert (
        kubectl_emr(kube, "terminate", etl, "-n", namespace).stdout.strip()
        == f"emrcluster.kemr.io/{etl} terminating"
    )
    assert kube.get("emrcluster", "-n", namespace, etl)["spec"]["terminate"] is True
    wait_for_state(kube, namespace, etl, "TERMINATED")
    again = kubectl_emr(kube, "terminate", etl, "-n", namespace)
    assert "already TERMINATED" in again.stdout
