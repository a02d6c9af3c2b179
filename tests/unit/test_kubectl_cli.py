"""`kubectl emr` commands against a fake API: what they send, what they print, how they fail.

The real API is exercised by tests/plugin/test_kubectl_emr.py; this covers what the local cluster can't show
(a driver log read and followed: kwok nodes serve no logs) and the exact messages."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from kemr.kubectl.cli import run
from kemr.kubectl.kube import Kube, PluginError, ServerError


class FakeKube(Kube):
    """The objects of one namespace, in memory; records writes and log reads."""

    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]], pods: dict[str, list[bytes]]) -> None:
        self.default_namespace = "data"
        self.objects, self.pods = objects, pods
        self.created: list[dict[str, Any]] = []
        self.patches: list[dict[str, Any]] = []
        self.log_reads: list[tuple[str, bool, int | None]] = []

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        if (kind, name) not in self.objects:
            raise PluginError(f'{kind} "{name}" not found in namespace "{namespace}"')
        return self.objects[kind, name]

    def list_objects(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        return [o for (k, _), o in self.objects.items() if k == kind]

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.created.append(body)
        return body

    def merge_patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(patch)
        return self.objects[kind, name]

    def events(self, kind: str, namespace: str, name: str) -> list[dict[str, Any]]:
        return []

    def pod_exists(self, namespace: str, name: str) -> bool:
        return name in self.pods

    def logs(
        self, namespace: str, pod: str, container: str, follow: bool, tail: int | None
    ) -> Iterator[bytes]:
        self.log_reads.append((pod, follow, tail))
        if container != "driver":
            raise ServerError(400, "BadRequest", f"container {container} is not valid")
        if self.pods[pod] is None:
            raise ServerError(500, "InternalError", "no preferred addresses found; known addresses: []")
        yield from self.pods[pod]


def _step(attempts: int, **status: Any) -> dict[str, Any]:
    return {
        "kind": "EMRStep",
        "metadata": {"name": "daily", "namespace": "data", "creationTimestamp": "2026-11-22T11:59:00Z"},
        "spec": {"clusterRef": {"name": "etl"}},
        "status": {
            "state": "RUNNING",
            "attempts": [{"number": n, "driverPod": f"daily-attempt-{n}"} for n in range(1, attempts + 1)],
            **status,
        },
    }


def _cluster(**spec: Any) -> dict[str, Any]:
    return {
        "kind": "EMRCluster",
        "metadata": {"name": "etl", "namespace": "data", "creationTimestamp": "2026-11-22T11:00:00Z"},
        "spec": spec,
        "status": {"state": "WAITING"},
    }


def call(kube: FakeKube, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err, kube)
    return code, out.getvalue(), err.getvalue()


def test_logs_of_the_last_attempt_by_default_and_a_split_character_survives() -> None:
    euro = "€".encode()
    kube = FakeKube(
        {("EMRStep", "daily"): _step(2)},
        {"daily-attempt-1": [b"old\n"], "daily-attempt-2": [b"total: 5", euro[:1], euro[1:], b"\n"]},
    )
    assert call(kube, "logs", "daily") == (0, "total: 5€\n", "")
    assert kube.log_reads == [("daily-attempt-2", False, None)]


def test_logs_of_a_chosen_attempt_followed() -> None:
    kube = FakeKube({("EMRStep", "daily"): _step(2)}, {"daily-attempt-1": [b"a\n"], "daily-attempt-2": []})
    assert call(kube, "logs", "daily", "--attempt", "1", "-f", "--tail", "10")[1] == "a\n"
    assert kube.log_reads == [("daily-attempt-1", True, 10)]


def test_logs_errors_name_the_pod_or_the_fix() -> None:
    kube = FakeKube({("EMRStep", "daily"): _step(1)}, {"daily-attempt-1": None})  # type: ignore[dict-item]
    code, _, err = call(kube, "logs", "daily")
    assert code == 1
    assert err == (
        "error: cannot read the log of driver pod data/daily-attempt-1 (attempt 1 of step daily):"
        " no preferred addresses found; known addresses: []\n"
    )
    gone = FakeKube(
        {
            ("EMRStep", "daily"): _step(
                1, failureDetails={"logFile": "s3://logs/etl/steps/daily/attempt-1/driver.log"}
            )
        },
        {},
    )
    assert call(gone, "logs", "daily")[2] == (
        "error: driver pod data/daily-attempt-1 (attempt 1 of step daily) no longer exists;"
        " its log was written to s3://logs/etl/steps/daily/attempt-1/driver.log\n"
    )
    pending = FakeKube({("EMRStep", "daily"): _step(0, state="PENDING")}, {})
    assert "has no attempt yet (PENDING)" in call(pending, "logs", "daily")[2]


def test_add_step_sends_the_step_and_the_args_after_the_double_dash() -> None:
    kube = FakeKube({("EMRCluster", "etl"): _cluster()}, {})
    code, out, _ = call(
        kube, "add-step", "etl", "--name", "ls", "--type", "command", "--", "hdfs", "dfs", "-ls", "--", "/"
    )
    assert (code, out) == (0, "emrstep.kemr.io/ls created\n")
    assert kube.created[0]["spec"]["command"] == {"args": ["hdfs", "dfs", "-ls", "--", "/"]}


def test_terminate_sets_spec_terminate_unless_protected() -> None:
    kube = FakeKube({("EMRCluster", "etl"): _cluster()}, {})
    assert call(kube, "terminate", "etl") == (0, "emrcluster.kemr.io/etl terminating\n", "")
    assert kube.patches == [{"spec": {"terminate": True}}]

    protected = FakeKube({("EMRCluster", "etl"): _cluster(terminationProtected=True)}, {})
    code, _, err = call(protected, "terminate", "etl")
    assert code == 1
    assert "termination-protected" in err
    assert "kubectl patch emrcluster etl -n data --type merge" in err
    assert protected.patches == []


def test_unknown_cluster_says_not_found() -> None:
    kube = FakeKube({}, {})
    assert call(kube, "describe", "nope") == (
        1,
        "",
        'error: EMRCluster "nope" not found in namespace "data"\n',
    )
