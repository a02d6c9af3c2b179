"""The reliability suite (issue 13): the operator killed at random points, away while things change, and
cut off from the API, on the local cluster's kwok pools with the real apiserver, scheduler and garbage
collector.

Each test prints its figures (kill points, seconds to converge) for the closing notes. The operators run
without leader election: a restarted candidate rightly waits a full lease (15 s) before it leads, which would
measure the Lease, not the reconcile."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from kemr.api import EMRClusterSpec
from kemr.builders import build_children
from kemr.config import OperatorConfig
from kemr.resolve import resolve_cluster
from support.emr import cluster, cluster_manifest, step_manifest, wait_for_state
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(600)
NO_LEASE = ("--no-leader-elect",)
MANAGED = "app.kubernetes.io/managed-by=kemr"
APPLIED = "statefulsets,deployments,services,configmaps,serviceaccounts,poddisruptionbudgets,networkpolicies"


def _expected_children(obj: dict[str, Any]) -> set[tuple[str, str]]:
    """What the builders make of this EMRCluster: (kind, name) of every applied child."""
    meta = obj["metadata"]
    spec = EMRClusterSpec.model_validate(obj["spec"])
    resolved = resolve_cluster(meta["name"], meta["namespace"], meta["uid"], spec, OperatorConfig())
    return {(c["kind"], c["metadata"]["name"]) for c in build_children(resolved)}


def _live_children(kube: Kube, namespace: str, name: str) -> set[tuple[str, str]]:
    items = kube.items(APPLIED, "-n", namespace, "-l", f"kemr.io/cluster={name}")
    return {(o["kind"], o["metadata"]["name"]) for o in items}


def _orphans(kube: Kube, namespace: str) -> list[str]:
    """Objects kemr made whose controlling owner no longer exists."""
    owners = {o["metadata"]["uid"] for o in kube.items("emrclusters,emrsteps", "-n", namespace)}
    found = []
    for obj in kube.items(APPLIED + ",pods,persistentvolumeclaims", "-n", namespace, "-l", MANAGED):
        refs = obj["metadata"].get("ownerReferences") or []
        kemr_refs = [r for r in refs if r.get("apiVersion", "").startswith("kemr.io/")]
        if kemr_refs and not any(r["uid"] in owners for r in kemr_refs):
            found.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return found


def _writes(proc: OperatorProcess) -> float:
    """API writes the operator sent so far (kemr_api_requests_total for POST, PUT, PATCH, DELETE)."""
    total = 0.0
    for line in proc.metrics().splitlines():
        if line.startswith("kemr_api_requests_total{") and any(
            f'verb="{v}"' in line for v in ("POST", "PUT", "PATCH", "DELETE")
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_killed_at_20_random_points_while_20_clusters_and_40_steps_reconcile(
    spawn_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str
) -> None:
    seed = int(os.environ.get("KEMR_CHAOS_SEED", time.time()))
    rng = random.Random(seed)
    op = spawn_operator("killed", args=NO_LEASE)
    op.start()
    clusters = [f"c{i:02d}" for i in range(20)]
    steps = [(c, f"{c}-s{j}") for c in clusters for j in (1, 2)]
    start = time.monotonic()
    kube.apply(
        *(cluster_manifest(c) for c in clusters),
        *(step_manifest(s, c, duration="2s") for c, s in steps),
        namespace=namespace,
    )
    kills = []
    for _ in range(20):
        time.sleep(rng.uniform(0.2, 2.5))
        kills.append(round(time.monotonic() - start, 1))
        op.kill()  # SIGKILL: no cleanup
        op.start()
    print(f"seed {seed}: SIGKILL at {kills} s")

    def converged() -> bool:
        states = {
            o["metadata"]["name"]: (o.get("status") or {}).get("state")
            for o in kube.items("emrsteps", "-n", namespace)
        }
        return len(states) == 40 and all(s == "COMPLETED" for s in states.values())

    wait_until(converged, 300, "all 40 steps COMPLETED", interval=2)
    for c in clusters:
        wait_for_state(kube, namespace, c, "WAITING", timeout=60)
    took = time.monotonic() - start
    print(f"converged {took:.0f} s after the apply, {took - kills[-1]:.0f} s after the last kill")

    for c in clusters:
        obj = cluster(kube, namespace, c)
        assert _live_children(kube, namespace, c) == _expected_children(obj), c
    assert _orphans(kube, namespace) == []
    drivers: dict[str, list[str]] = {}
    for pod in kube.items("pods", "-n", namespace, "-l", "kemr.io/role=driver"):
        drivers.setdefault(pod["metadata"]["labels"]["kemr.io/step"], []).append(pod["metadata"]["name"])
    for _, s in steps:
        status = kube.get("emrstep", s, "-n", namespace)["status"]
        assert [(a["number"], a["outcome"]) for a in status["attempts"]] == [(1, "COMPLETED")], s
        assert drivers.get(s) == [f"{s}-attempt-1"], (s, drivers.get(s))  # exactly one driver, run once


def test_nothing_changes_while_the_operator_is_away_and_all_is_repaired_on_its_return(
    spawn_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str
) -> None:
    op = spawn_operator("away", args=NO_LEASE)
    op.start()
    kube.apply(cluster_manifest("scaled"), cluster_manifest("deleted"), namespace=namespace)
    wait_for_state(kube, namespace, "scaled", "WAITING")
    wait_for_state(kube, namespace, "deleted", "WAITING")
    op.stop()

    kube.apply(cluster_manifest("new-a"), cluster_manifest("new-b"), namespace=namespace)
    scaled = cluster_manifest("scaled")
    scaled["spec"]["coreGroups"][0]["replicas"] = 3
    kube.apply(scaled, namespace=namespace)
    kube.run("delete", "emrcluster", "deleted", "-n", namespace, "--wait=false")
    time.sleep(10)
    assert not _live_children(kube, namespace, "new-a")
    assert not _live_children(kube, namespace, "new-b")
    core = kube.get("statefulset", "scaled-core-core", "-n", namespace)
    assert core["spec"]["replicas"] == 2, "nothing changes while the operator is away"

    back = time.monotonic()
    op.start()
    wait_for_state(kube, namespace, "new-a", "WAITING", timeout=60)
    wait_for_state(kube, namespace, "new-b", "WAITING", timeout=60)
    wait_until(
        lambda: kube.get("statefulset", "scaled-core-core", "-n", namespace)["spec"]["replicas"] == 3,
        60,
        "scaled-core-core at 3",
    )
    wait_until(
        lambda: not _live_children(kube, namespace, "deleted"), 60, "the deleted cluster's children gone"
    )
    repaired = time.monotonic() - back
    print(f"repaired {repaired:.1f} s after the operator's return")
    assert repaired < 60
    assert _orphans(kube, namespace) == []


def _apiserver_pid() -> int:
    out = subprocess.run(["pgrep", "-f", "/kube-apiserver "], capture_output=True, text=True).stdout.split()
    assert len(out) == 1, f"expected one kube-apiserver, found {out}"
    return int(out[0])


def test_the_api_unreachable_for_60s_the_operator_resumes_without_a_restart_or_duplicate_writes(
    spawn_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str
) -> None:
    op = spawn_operator("cut-off", args=NO_LEASE)
    op.start()
    kube.apply(cluster_manifest("before"), namespace=namespace)
    wait_for_state(kube, namespace, "before", "WAITING")
    kube.apply(step_manifest("during", "before", duration="20s"), namespace=namespace)
    pid = op.proc.pid if op.proc else 0
    apiserver = _apiserver_pid()
    os.kill(apiserver, signal.SIGSTOP)  # every request hangs, as behind a dead network path
    try:
        time.sleep(60)
    finally:
        os.kill(apiserver, signal.SIGCONT)
    resumed = time.monotonic()
    wait_until(lambda: kube.is_up(), 60, "the apiserver answering")
    kube.apply(cluster_manifest("after"), namespace=namespace)
    wait_for_state(kube, namespace, "after", "WAITING", timeout=120)
    done = wait_until(
        lambda: (
            (s := kube.get("emrstep", "during", "-n", namespace)).get("status", {}).get("state")
            == "COMPLETED"
            and s
        ),
        120,
        "the step started before the outage to complete",
    )
    print(f"resumed: a new cluster WAITING {time.monotonic() - resumed:.0f} s after the API came back")
    assert op.proc is not None
    assert op.proc.pid == pid, "resumed without a restart"
    assert op.proc.poll() is None
    assert [a["number"] for a in done["status"]["attempts"]] == [1]
    pods = kube.items("pods", "-n", namespace, "-l", "kemr.io/step=during")
    assert [p["metadata"]["name"] for p in pods] == ["during-attempt-1"]
    # Converged: an idle operator writes nothing (no retry storm, no status flapping).
    time.sleep(5)
    idle = _writes(op)
    time.sleep(15)
    assert _writes(op) == idle, "writes while nothing changes"
