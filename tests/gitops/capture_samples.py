"""Regenerates the sample objects of the Argo CD health tests (gitops/argocd/.../testdata) from the operator.

Runs the operator against the local cluster, drives clusters and steps through their states, and saves each
object as a user would see it (`kubectl get -o yaml`), minus server bookkeeping. Hold the test lock:

    flock /tmp/kemr-test.lock uv run python tests/gitops/capture_samples.py

Takes about 2 minutes (an idle timeout can't be shorter than 60 s).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import _cluster_env
from support.emr import cluster_manifest, step_manifest
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "gitops" / "argocd" / "resource_customizations" / "kemr.io"
NAMESPACE = "gitops-samples"
# Server bookkeeping a sample doesn't need (and that would only make diffs noisy).
DROPPED_METADATA = ("managedFields", "uid", "resourceVersion", "ownerReferences")


def trim(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    for key in DROPPED_METADATA:
        meta.pop(key, None)
    meta.get("annotations", {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    return obj


def save(obj: dict[str, Any], name: str, note: str = "") -> None:
    path = OUT / obj["kind"] / "testdata" / f"{name}.yaml"
    header = f"# Captured from the operator by tests/gitops/capture_samples.py{': ' + note if note else ''}\n"
    path.write_text(header + yaml.safe_dump(trim(obj), sort_keys=False))
    print(f"saved {path.relative_to(REPO)}: {(obj.get('status') or {}).get('state')}")


class Capture:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def get(self, kind: str, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.kube.get(kind, "-n", NAMESPACE, name)
        return obj

    def when(
        self, kind: str, name: str, ok: Callable[[dict[str, Any]], bool], timeout: float = 90
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            obj = self.get(kind, name)
            return obj if ok(obj) else None

        return wait_until(probe, timeout, f"{kind} {name}", interval=0.1)

    def state(self, kind: str, name: str, state: str, timeout: float = 90) -> dict[str, Any]:
        return self.when(kind, name, lambda o: (o.get("status") or {}).get("state") == state, timeout)

    def apply(self, obj: dict[str, Any]) -> None:
        self.kube.apply(obj, namespace=NAMESPACE)

    def patch(self, kind: str, name: str, spec: dict[str, Any]) -> None:
        self.kube.run(
            "patch", kind, name, "-n", NAMESPACE, "--type=merge", "-p", yaml.safe_dump({"spec": spec})
        )


class Watch:
    """Every version of one object, from `kubectl get -w`: a state shorter than a poll (a kwok cluster can be
    TERMINATING for a fraction of a second) is still seen. Start it before what causes the state."""

    def __init__(self, kube: Kube, kind: str, name: str) -> None:
        args = ["get", kind, name, "-n", NAMESPACE, "-w", "-o", "json"]
        cmd = [kube.kubectl_bin, f"--kubeconfig={kube.kubeconfig}", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout
        decoder, buffer = json.JSONDecoder(), ""
        for line in self.proc.stdout:  # kubectl prints one indented JSON document per version
            buffer += line
            try:
                obj, end = decoder.raw_decode(buffer.lstrip())
            except json.JSONDecodeError:
                continue
            buffer = buffer.lstrip()[end:]
            with self.lock:
                self.seen.append(obj)

    def state(self, state: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [o for o in self.seen if (o.get("status") or {}).get("state") == state]
            if found:
                return copy.deepcopy(found[0])
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for state {state} in a watch")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def stalled(obj: dict[str, Any]) -> bool:
    conds = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Stalled" and c["status"] == "True" for c in conds)


def _set_condition(obj: dict[str, Any], type_: str, status: str, reason: str, message: str) -> None:
    cond = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    cond.update(status=status, reason=reason, message=message)


def save_derived_from_waiting(waiting: dict[str, Any]) -> None:
    """States that take minutes or real capacity shortages to reach, edited by hand from a WAITING cluster."""
    behind = copy.deepcopy(waiting)
    behind["metadata"]["generation"] = behind["status"]["observedGeneration"] + 1
    save(behind, "cluster-generation-not-observed", "metadata.generation raised by hand")

    rolling = copy.deepcopy(waiting)
    for type_ in ("Progressing", "Reconciling"):  # the operator keeps them equal (kstatus reads Reconciling)
        _set_condition(rolling, type_, "True", "Reconciling", "Waiting for core")
    save(
        rolling,
        "cluster-waiting-rolling",
        "Progressing and Reconciling conditions set by hand (a configuration change rolling)",
    )

    short = copy.deepcopy(waiting)
    spot = next(g for g in short["status"]["groups"] if g["name"] == "spot")
    spot.update(desired=2, ready=1)
    _set_condition(short, "Degraded", "True", "GroupsNotReady", "Groups below their desired size: spot")
    save(short, "cluster-waiting-groups-short", "spot group and Degraded condition set by hand")


def save_derived_from_idle(idle: dict[str, Any]) -> None:
    lifetime = copy.deepcopy(idle)
    old, new = "Cluster was idle for 60s", "Cluster reached its maximum lifetime of 3600s"
    lifetime["status"]["stateChangeReason"] = {"code": "MAX_LIFETIME", "message": new}
    for cond in lifetime["status"]["conditions"]:
        cond["message"] = cond["message"].replace(old, new)
    # An abnormal end: not Ready but Stalled, as operator/kemr/status/cluster.py decides for MAX_LIFETIME.
    summary = f"TERMINATED: {new}"
    _set_condition(lifetime, "Ready", "False", "Terminated", summary)
    _set_condition(lifetime, "Stalled", "True", "MaxLifetime", summary)
    save(lifetime, "cluster-terminated-max-lifetime", "stateChangeReason and Ready/Stalled set by hand")


def run(c: Capture) -> None:
    auto = {"keepAliveWhenNoSteps": True}
    c.apply(cluster_manifest("idle", autoTermination={**auto, "idleTimeoutSeconds": 60}))
    c.apply(cluster_manifest("analytics", autoTermination=auto))
    save(c.state("emrcluster", "analytics", "STARTING"), "cluster-starting")
    bad = [{"classification": "spark-defaults", "properties": {"spark.master": "local[*]"}}]
    c.apply(cluster_manifest("bad", configurations=bad))
    save(c.when("emrcluster", "bad", stalled), "cluster-stalled-invalid-spec")

    waiting = c.state("emrcluster", "analytics", "WAITING")
    save(waiting, "cluster-waiting")
    save_derived_from_waiting(waiting)

    c.apply(step_manifest("daily-report", "analytics", duration="6s"))
    c.apply(step_manifest("queued", "analytics", duration="2s"))
    save(c.state("emrstep", "daily-report", "RUNNING"), "step-running")
    save(c.state("emrstep", "queued", "PENDING"), "step-pending")
    save(c.state("emrcluster", "analytics", "RUNNING"), "cluster-running")
    save(c.state("emrstep", "daily-report", "COMPLETED"), "step-completed")
    c.state("emrstep", "queued", "COMPLETED")

    # A failed CANCEL_AND_WAIT step cancels the steps sent before it failed.
    c.apply(
        step_manifest("broken", "analytics", exit_code="1", duration="3s", actionOnFailure="CANCEL_AND_WAIT")
    )
    c.apply(step_manifest("after-broken", "analytics"))
    save(c.state("emrstep", "broken", "FAILED"), "step-failed")
    save(c.state("emrstep", "after-broken", "CANCELLED"), "step-cancelled-by-failed-step")

    # A driver pod deleted under the step: INTERRUPTED, retried without using up an attempt.
    c.apply(step_manifest("flaky", "analytics", duration="10m"))
    running = c.when(
        "emrstep",
        "flaky",
        lambda o: bool(((o.get("status") or {}).get("attempts") or [{}])[-1].get("podUid")),
    )
    pod = running["status"]["attempts"][-1]["driverPod"]
    c.kube.run("delete", "pod", pod, "-n", NAMESPACE, "--grace-period=0", "--force")
    save(c.state("emrstep", "flaky", "INTERRUPTED"), "step-interrupted")
    c.patch("emrstep", "flaky", {"cancel": True})
    c.when(
        "emrstep", "flaky", lambda o: (o.get("status") or {}).get("state") in ("CANCELLED", "CANCEL_PENDING")
    )

    c.apply(step_manifest("long", "analytics", duration="10m"))
    c.state("emrstep", "long", "RUNNING")
    c.patch("emrstep", "long", {"cancel": True})
    save(c.state("emrstep", "long", "CANCEL_PENDING"), "step-cancel-pending")
    save(c.state("emrstep", "long", "CANCELLED", timeout=60), "step-cancelled-by-user")

    # A transient cluster: terminates by itself after its steps.
    transient = cluster_manifest("transient", autoTermination={"keepAliveWhenNoSteps": False})
    c.apply(transient)
    c.state("emrcluster", "transient", "WAITING")
    watch = Watch(c.kube, "emrcluster", "transient")
    c.apply(step_manifest("nightly", "transient", duration="2s"))
    save(watch.state("TERMINATING"), "cluster-terminating-all-steps-completed")
    save(watch.state("TERMINATED"), "cluster-terminated-all-steps-completed")
    watch.close()

    c.apply(cluster_manifest("fatal"))
    c.state("emrcluster", "fatal", "WAITING")
    c.apply(
        step_manifest(
            "fatal-step", "fatal", exit_code="1", duration="2s", actionOnFailure="TERMINATE_CLUSTER"
        )
    )
    save(c.state("emrcluster", "fatal", "TERMINATED_WITH_ERRORS"), "cluster-terminated-with-errors")

    watch = Watch(c.kube, "emrcluster", "analytics")
    c.patch("emrcluster", "analytics", {"terminate": True})
    save(watch.state("TERMINATING"), "cluster-terminating-user-request")
    save(watch.state("TERMINATED"), "cluster-terminated-user-request")
    watch.close()

    idle = c.state("emrcluster", "idle", "TERMINATED", timeout=120)
    save(idle, "cluster-terminated-idle-timeout")
    save_derived_from_idle(idle)


def main() -> None:
    env = _cluster_env()
    kube = Kube(kubeconfig=Path(env["KUBECONFIG"]), kubectl_bin=str(Path(env["KEMR_BIN"]) / "kubectl"))
    kube.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    kube.run("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true")
    kube.run("create", "namespace", NAMESPACE)
    log = Path(tempfile.mkdtemp()) / "operator.log"
    operator = OperatorProcess(kube.kubeconfig, log)
    operator.start()
    try:
        run(Capture(kube))
    finally:
        operator.stop()
        kube.run("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        print(f"operator log: {log}")


if __name__ == "__main__":
    main()
