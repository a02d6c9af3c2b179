"""EMRCluster and EMRStep status read by kstatus, the library Flux (health checks, `wait: true`) and cli-utils
use, through gitops/kstatus-check: for the Argo CD samples and for a live cluster.

The expected results are what a Flux user relies on: InProgress while something is under way, Current once the
object is where it was asked to be, Failed when it needs a human. Known gaps in the operator's status are
marked xfail(strict) with what must change in operator/kemr/status (docs/gitops.md, "kstatus").
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops_samples import build_go_tool, kind_dir

from support.emr import cluster_manifest, wait_for_state
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(600)  # the first build of kstatus-check downloads its modules

# Gaps: kstatus reads Reconciling / Stalled, then Ready; Progressing is not a kstatus condition, and a
# Ready=False object that is neither Reconciling nor Stalled is InProgress forever.
ROLLING_GAP = "no Reconciling condition: kstatus ignores Progressing=True while Ready=True"
FINISHED_GAP = "a normally finished object has Ready=False and no Stalled: kstatus says InProgress forever"
ABNORMAL_END_GAP = "an abnormal end without Stalled=True: kstatus says InProgress, not Failed"

EXPECTED: dict[str, tuple[str, str | None]] = {
    # sample: (kstatus status, known gap or None)
    "EMRCluster/cluster-starting": ("InProgress", None),
    "EMRCluster/cluster-waiting": ("Current", None),
    "EMRCluster/cluster-running": ("Current", None),
    "EMRCluster/cluster-waiting-groups-short": ("Current", None),
    "EMRCluster/cluster-waiting-rolling": ("InProgress", ROLLING_GAP),
    "EMRCluster/cluster-generation-not-observed": ("InProgress", None),
    "EMRCluster/cluster-stalled-invalid-spec": ("Failed", None),
    "EMRCluster/cluster-terminating-all-steps-completed": ("InProgress", None),
    "EMRCluster/cluster-terminating-user-request": ("InProgress", None),
    "EMRCluster/cluster-terminated-all-steps-completed": ("Current", FINISHED_GAP),
    "EMRCluster/cluster-terminated-user-request": ("Current", FINISHED_GAP),
    "EMRCluster/cluster-terminated-idle-timeout": ("Current", FINISHED_GAP),
    "EMRCluster/cluster-terminated-max-lifetime": ("Failed", ABNORMAL_END_GAP),
    "EMRCluster/cluster-terminated-with-errors": ("Failed", None),
    "EMRStep/step-pending": ("InProgress", None),
    "EMRStep/step-running": ("InProgress", None),
    "EMRStep/step-interrupted": ("InProgress", None),
    "EMRStep/step-cancel-pending": ("InProgress", None),
    "EMRStep/step-completed": ("Current", None),
    "EMRStep/step-failed": ("Failed", None),
    "EMRStep/step-cancelled-by-user": ("Current", FINISHED_GAP),
    "EMRStep/step-cancelled-by-failed-step": ("Failed", ABNORMAL_END_GAP),
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


def _cases() -> list[Any]:
    return [
        pytest.param(
            sample, status, marks=[pytest.mark.xfail(strict=True, reason=gap)] if gap else [], id=sample
        )
        for sample, (status, gap) in EXPECTED.items()
    ]


@pytest.mark.parametrize(("sample", "expected"), _cases())
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
    """What Flux sees of a cluster it applied: InProgress while starting, then Current; Failed if invalid."""

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
    kube.apply(cluster_manifest("flux-bad", configurations=bad), namespace=namespace)
    failed = wait_until(
        lambda: live("flux-bad") if live("flux-bad")["status"] == "Failed" else None, 60, "Failed"
    )
    assert "spark.master" in failed["message"]
