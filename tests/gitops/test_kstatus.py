"""EMRCluster and EMRStep status read by kstatus, the library Flux (health checks, `wait: true`) and cli-utils
use, through gitops/kstatus-check: for the Argo CD samples and for a live cluster.

The expected results are what a Flux user relies on: InProgress while something is under way, Current once the
object is where it was asked to be (a normal end included), Failed when it needs a human (docs/gitops.md,
"kstatus").
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from gitops_samples import build_go_tool, kind_dir

from support.emr import cluster_manifest, step_manifest, wait_for_state
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(600)  # the first build of kstatus-check downloads its modules

# sample: kstatus status. kstatus reads observedGeneration, then Reconciling / Stalled, then Ready
# (Progressing is not a kstatus condition); docs/gitops.md, "kstatus", says why each is as it is.
EXPECTED: dict[str, str] = {
    "EMRCluster/cluster-starting": "InProgress",
    "EMRCluster/cluster-waiting": "Current",
    "EMRCluster/cluster-running": "Current",
    "EMRCluster/cluster-waiting-groups-short": "Current",
    "EMRCluster/cluster-waiting-rolling": "InProgress",  # a configuration change rolling: Reconciling=True
    "EMRCluster/cluster-generation-not-observed": "InProgress",
    "EMRCluster/cluster-stalled-invalid-spec": "Failed",
    "EMRCluster/cluster-terminating-all-steps-completed": "InProgress",
    "EMRCluster/cluster-terminating-user-request": "InProgress",
    # A cluster that terminated as designed did its job: a Flux wait on it must not time out.
    "EMRCluster/cluster-terminated-all-steps-completed": "Current",
    "EMRCluster/cluster-terminated-user-request": "Current",
    "EMRCluster/cluster-terminated-idle-timeout": "Current",
    "EMRCluster/cluster-terminated-max-lifetime": "Failed",  # cut off whatever it was running
    "EMRCluster/cluster-terminated-with-errors": "Failed",
    "EMRStep/step-pending": "InProgress",
    "EMRStep/step-running": "InProgress",
    "EMRStep/step-interrupted": "InProgress",
    "EMRStep/step-cancel-pending": "InProgress",
    "EMRStep/step-completed": "Current",
    "EMRStep/step-failed": "Failed",
    "EMRStep/step-cancelled-by-user": "Current",  # cancelled on purpose: where it was asked to be
    "EMRStep/step-cancelled-by-failed-step": "Failed",  # its work did not happen
    # A DataCatalog is Reconciling until it serves (kemr.status.catalog): a Flux dependsOn waits for ACTIVE.
    "DataCatalog/catalog-creating": "InProgress",
    "DataCatalog/catalog-active": "Current",
    "DataCatalog/catalog-degraded": "InProgress",
    "DataCatalog/catalog-deleting": "InProgress",
    "DataCatalog/catalog-generation-not-observed": "InProgress",
    "DataCatalog/catalog-stalled-invalid-spec": "Failed",
}


@pytest.fixture(scope="module")
def kstatus_check(pytestconfig: pytest.Config) -> Path:
    """The kstatus-check binary; built first if its source changed (progress shown, ~75 s the first time)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        return build_go_tool("kstatus-check")


def kstatus(binary: Path, text: str) -> list[dict[str, str]]:
    proc = subprocess.run([binary, "-o", "json"], input=text, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, str]] = json.loads(proc.stdout)
    return results


def _sample_path(sample: str) -> Path:
    kind, name = sample.split("/")
    return kind_dir(kind) / "testdata" / f"{name}.yaml"


@pytest.mark.parametrize(("sample", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_sample_kstatus(kstatus_check: Path, sample: str, expected: str) -> None:
    [result] = kstatus(kstatus_check, _sample_path(sample).read_text())
    assert result["status"] == expected, result["message"]


def test_every_sample_has_an_expectation() -> None:
    samples = {
        f"{p.parent.parent.name}/{p.stem}" for p in kind_dir("EMRCluster").parent.glob("*/testdata/*.yaml")
    }
    assert samples == set(EXPECTED)


def test_failed_carries_the_stalled_message(kstatus_check: Path) -> None:
    [result] = kstatus(kstatus_check, _sample_path("EMRCluster/cluster-stalled-invalid-spec").read_text())
    assert "spark.master" in result["message"]


def test_reads_a_list_and_several_documents(kstatus_check: Path) -> None:
    """`kubectl get emrclusters -o json` is a List; a manifest file has several YAML documents."""
    objects = [
        yaml.safe_load(_sample_path(s).read_text()) for s in ("EMRStep/step-running", "EMRStep/step-failed")
    ]
    as_list = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, default=str)
    assert [r["status"] for r in kstatus(kstatus_check, as_list)] == ["InProgress", "Failed"]
    as_docs = yaml.safe_dump_all(objects)
    assert [r["status"] for r in kstatus(kstatus_check, as_docs)] == ["InProgress", "Failed"]


def test_live_cluster(operator: OperatorProcess, kube: Kube, namespace: str, kstatus_check: Path) -> None:
    """What Flux sees of a cluster it applied: InProgress while starting, then Current; Failed when it ends
    in error. An invalid spec never gets that far: the operator's webhook refuses it at apply."""

    def live(name: str) -> dict[str, str]:
        [result] = kstatus(
            kstatus_check, kube.run("get", "emrcluster", name, "-n", namespace, "-o", "json").stdout
        )
        return result

    kube.apply(cluster_manifest("flux"), namespace=namespace)
    wait_until(
        lambda: live("flux")["status"] == "InProgress" or None, 30, "kstatus InProgress while starting"
    )
    wait_for_state(kube, namespace, "flux", "WAITING")
    assert live("flux")["status"] == "Current"

    bad = [{"classification": "spark-defaults", "properties": {"spark.master": "local[*]"}}]
    refused = kube.apply(cluster_manifest("flux-bad", configurations=bad), namespace=namespace, check=False)
    assert refused.returncode != 0
    assert "spark.master" in refused.stderr

    kube.apply(
        cluster_manifest("flux-bad"),
        step_manifest("etl", "flux-bad", exit_code="1", actionOnFailure="TERMINATE_CLUSTER"),
        namespace=namespace,
    )
    failed = wait_until(
        lambda: live("flux-bad") if live("flux-bad")["status"] == "Failed" else None, 90, "Failed"
    )
    assert "TERMINATED_WITH_ERRORS" in failed["message"]
