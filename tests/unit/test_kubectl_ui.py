"""`kubectl emr ui` against a fake API: which pod and page it picks, what it asks of the operator, how it
fails; the port forward's restarts against a stand-in kubectl. The port forward itself runs against the real
node in tests/e2e/test_demo.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kemr.kubectl import ui
from kemr.kubectl.kube import Kube, PluginError

NOW = datetime(2026, 12, 1, 11, 0, 0, tzinfo=UTC)
APP = "app-20261201105501-0000"


class FakeKube(Kube):
    def __init__(
        self, objects: dict[tuple[str, str], dict[str, Any]], pods: dict[str, dict[str, Any]]
    ) -> None:
        self.default_namespace = "data"
        self.objects, self.pods = objects, pods
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        if (kind, name) not in self.objects:
            raise PluginError(f'{kind} "{name}" not found in namespace "{namespace}"')
        return self.objects[kind, name]

    def merge_patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append((name, patch))
        return self.objects[kind, name]

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.pods.get(name)


def cluster(state: str, log_uri: str | None = "s3://logs/") -> dict[str, Any]:
    spec = {"logUri": log_uri} if log_uri else {}
    return {"metadata": {"name": "etl", "namespace": "data"}, "spec": spec, "status": {"state": state}}


def step(*attempts: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "etl-sales", "namespace": "data"},
        "spec": {"clusterRef": {"name": "etl"}},
        "status": {"state": "COMPLETED", "attempts": list(attempts)},
    }


READY = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
DONE = {"number": 1, "driverPod": "etl-sales-attempt-1", "outcome": "COMPLETED", "applicationId": APP}


def test_a_running_cluster_opens_its_spark_master_ui() -> None:
    target = ui.cluster_target(cluster("WAITING"))
    assert (target.pod, target.port, target.path) == ("etl-master-0", 8080, "/")


def test_a_terminated_cluster_points_to_its_steps_history() -> None:
    with pytest.raises(PluginError, match="kubectl emr ui STEP"):
        ui.cluster_target(cluster("TERMINATED"))


def test_a_running_step_opens_its_drivers_own_ui() -> None:
    kube = FakeKube({}, {"etl-sales-attempt-1": READY})
    running = {"number": 1, "driverPod": "etl-sales-attempt-1"}
    target = ui.step_target(kube, step(running), None, 5, print, NOW)
    assert (target.pod, target.port) == ("etl-sales-attempt-1", 4040)
    assert kube.patches == [], "no history server for a live driver"


def test_a_finished_step_requests_the_history_server_and_opens_its_application() -> None:
    kube = FakeKube({("EMRCluster", "etl"): cluster("TERMINATED")}, {"etl-history": READY})
    target = ui.step_target(kube, step(DONE), None, 5, print, NOW)
    assert (target.pod, target.port, target.path) == ("etl-history", 18080, f"/history/{APP}/jobs/")
    assert kube.patches == [
        ("etl", {"metadata": {"annotations": {"kemr.io/spark-history-requested": "2026-12-01T11:00:00Z"}}})
    ]


def test_a_step_whose_cluster_had_no_log_uri_says_there_is_no_history() -> None:
    kube = FakeKube({("EMRCluster", "etl"): cluster("TERMINATED", log_uri=None)}, {})
    with pytest.raises(PluginError, match=r"no spec\.logUri"):
        ui.step_target(kube, step(DONE), None, 5, print, NOW)
    assert kube.patches == []


def test_a_history_server_that_does_not_start_is_reported_with_where_to_look() -> None:
    kube = FakeKube({("EMRCluster", "etl"): cluster("TERMINATED")}, {})
    with pytest.raises(PluginError, match="describe pod etl-history"):
        ui.wait_for_history(kube, "data", "etl-history", 0, print, sleep=lambda _: None)


def test_an_attempt_that_does_not_exist_is_refused() -> None:
    with pytest.raises(PluginError, match=r"attempts 1\.\.1, not 3"):
        ui.pick_attempt(step(DONE), 3)
    with pytest.raises(PluginError, match="no attempt yet"):
        ui.pick_attempt(step(), None)


def test_names_shared_by_a_cluster_and_a_step_need_their_kind() -> None:
    both = {("EMRCluster", "x"): cluster("WAITING"), ("EMRStep", "x"): step(DONE)}
    kube = FakeKube(both, {})
    with pytest.raises(PluginError, match="say emrcluster/x or emrstep/x"):
        ui.find_target(kube, "data", "x")
    assert ui.find_target(kube, "data", "emrstep/x")[0] == "EMRStep"
    assert ui.find_target(kube, "data", "emrclusters.kemr.io/x")[0] == "EMRCluster"
    with pytest.raises(PluginError, match="no EMRCluster or EMRStep"):
        ui.find_target(kube, "data", "y")


def test_the_url_comes_from_kubectls_forwarding_line() -> None:
    assert ui.forwarded_url("Forwarding from 127.0.0.1:41235 -> 18080\n", "/history/a/jobs/") == (
        "http://127.0.0.1:41235/history/a/jobs/"
    )
    assert ui.forwarded_url("Forwarding from [::1]:41235 -> 18080", "/") == "http://[::1]:41235/"
    assert ui.forwarded_url("Handling connection for 41235", "/") is None


def test_the_port_forward_is_kubectls_with_the_users_kubeconfig() -> None:
    target = ui.UiTarget("etl-history", 18080, "/", "x")
    base = ui.kubectl_base("/k/config", "prod")
    assert ui.port_forward_command(base, "data", target, "127.0.0.1", 0) == [
        "kubectl", "--kubeconfig", "/k/config", "--context", "prod", "port-forward", "-n", "data",
        "pod/etl-history", ":18080", "--address", "127.0.0.1",
    ]  # fmt: skip


class NotebookKube(FakeKube):
    def __init__(self, notebook: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        super().__init__({("EMRNotebook", "lab"): notebook}, {})
        self.listed = pods
        self.selectors: list[str] = []

    def pods_labelled(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        self.selectors.append(selector)
        return self.listed


def notebook(state: str, reason: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"state": state, "cluster": "etl"}
    if state == "READY":
        status["url"] = "/lab"
    if reason:
        status["stateChangeReason"] = {"message": reason}
    return {"metadata": {"name": "lab", "namespace": "data"}, "status": status}


def test_a_ready_notebook_opens_its_jupyterlab_on_its_ready_pod() -> None:
    ready_pod = {"metadata": {"name": "lab-notebook-abc-12345"}, **READY}
    going = {"metadata": {"name": "lab-notebook-old-1", "deletionTimestamp": "x"}, **READY}
    kube = NotebookKube(notebook("READY"), [going, ready_pod])
    target = ui.notebook_target(kube, notebook("READY"))
    assert (target.pod, target.port, target.path) == ("lab-notebook-abc-12345", 8888, "/lab")
    assert kube.selectors == ["kemr.io/role=notebook,kemr.io/notebook=lab"]
    command = ui.port_forward_command(["kubectl"], "data", target, "127.0.0.1", 0)
    assert command[-4:] == ["pod/lab-notebook-abc-12345", ":8888", "--address", "127.0.0.1"]
    assert ui.forwarded_url("Forwarding from 127.0.0.1:40001 -> 8888", target.path) == (
        "http://127.0.0.1:40001/lab"
    )


def test_a_notebook_that_is_not_ready_says_why() -> None:
    with pytest.raises(PluginError, match=r"EMRNotebook lab is PENDING: waiting for EMRCluster etl"):
        ui.notebook_target(
            NotebookKube(notebook("PENDING"), []), notebook("PENDING", "waiting for EMRCluster etl")
        )
    with pytest.raises(PluginError, match="no ready pod"):
        ui.notebook_target(NotebookKube(notebook("READY"), []), notebook("READY"))


def test_a_pod_being_deleted_is_not_taken_as_ready() -> None:
    going = {**READY, "metadata": {"deletionTimestamp": "2026-12-01T11:00:00Z"}}
    assert not ui.pod_ready(going)


def test_a_history_server_that_ended_after_the_request_says_why_at_once() -> None:
    ended = {
        "metadata": {"creationTimestamp": "2026-12-01T11:00:02Z"},
        "status": {
            "phase": "Failed",
            "containerStatuses": [{"state": {"terminated": {"exitCode": 1, "message": "403 Forbidden"}}}],
        },
    }
    kube = FakeKube({}, {"etl-history": ended})
    with pytest.raises(PluginError, match="ended: 403 Forbidden"):
        ui.wait_for_history(kube, "data", "etl-history", 60, print, requested=NOW, sleep=lambda _: None)


def test_a_client_clock_off_by_an_hour_is_corrected_by_the_apiservers() -> None:
    server_time = "2026-12-01T12:00:00Z"
    answer = {**cluster("TERMINATED"), "metadata": {"name": "etl", "namespace": "data", "managedFields": [
        {"manager": "kubectl-emr", "operation": "Update", "time": server_time}
    ]}}  # fmt: skip
    kube = FakeKube({("EMRCluster", "etl"): answer}, {})
    assert ui.request_history(kube, cluster("TERMINATED"), NOW) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert [p[1]["metadata"]["annotations"]["kemr.io/spark-history-requested"] for p in kube.patches] == [
        "2026-12-01T11:00:00Z",
        server_time,
    ]


def fake_kubectl(script: Path, runs: list[str]) -> Callable[[int], list[str]]:
    """A `kubectl port-forward` stand-in: its n-th start prints runs[n] and exits 1; the ports asked for are
    appended to `script`'s log."""
    log = script.with_suffix(".log")
    script.write_text(
        "import sys\n"
        f"log = open({str(log)!r}, 'a+'); log.seek(0); n = len(log.readlines())\n"
        "log.write(sys.argv[1] + '\\n'); log.close()\n"
        f"print({runs!r}[n], flush=True)\n"
        "sys.exit(1)\n"
    )
    return lambda port: [sys.executable, str(script), str(port)]


def test_a_forward_that_ends_after_listening_starts_again_on_the_same_port(tmp_path: Path) -> None:
    runs = [
        "Forwarding from 127.0.0.1:40001 -> 8888",
        "Forwarding from 127.0.0.1:40001 -> 8888",
        "error: unable to forward port because pod is not running. Current status=Failed",
    ]
    command = fake_kubectl(tmp_path / "kubectl.py", runs)
    announced: list[str] = []
    said: list[str] = []
    pauses: list[float] = []
    code = ui.forward(command, 0, "/lab", announced.append, said.append, pauses.append)
    assert code == 1  # the last kubectl never listened: its exit code, no further start
    assert announced == ["http://127.0.0.1:40001/lab"]  # once: the URL stays the same
    assert (tmp_path / "kubectl.log").read_text().split() == ["0", "40001", "40001"]
    assert said == ["kubectl port-forward ended (exit code 1); forwarding port 40001 again"] * 2
    assert pauses == [ui.RESTART_PAUSE_S] * 2


def test_a_forward_that_never_listens_ends_with_kubectls_exit_code(tmp_path: Path) -> None:
    command = fake_kubectl(tmp_path / "kubectl.py", ['error: pods "lab" not found'])
    announced: list[str] = []
    assert ui.forward(command, 8888, "/", announced.append, announced.append, lambda _: None) == 1
    assert announced == []
    assert (tmp_path / "kubectl.log").read_text().split() == ["8888"]
