"""The EMRNotebook reconcile end to end against the in-memory apiserver (no cluster): it waits for its
cluster, starts a Deployment once the cluster is WAITING, reads Jupyter's kernels when READY, stops on
request, detaches from a terminated cluster, and says which field to fix when its Secret is missing."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kemr.api.notebook import NotebookKernels
from kemr.controllers import probes
from kemr.controllers.kernels import kernels_now
from kemr.controllers.notebook import reconcile_notebook
from kemr.controllers.run import Context
from kemr.status.notebook import KERNELS_POLL_SECONDS, KernelsReport
from support.contexts import fake_context
from support.emr import cluster_manifest
from support.fake_api import FakeApi

KEMR = "/apis/kemr.io/v1alpha1"
DEPLOYMENT = ("/apis/apps/v1", "deployments", "ns", "lab-notebook")
KINDS = {"emrclusters": "EMRCluster", "emrnotebooks": "EMRNotebook"}


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _context(
    cluster_state: str | None = "WAITING", secret: bool = True, **spec: Any
) -> tuple[Context, FakeApi]:
    api = FakeApi()
    ctx = fake_context(api)
    cluster = cluster_manifest("etl")
    cluster["metadata"]["namespace"] = "ns"
    if cluster_state:
        cluster["status"] = {"state": cluster_state}
    api.put(cluster, "emrclusters", base=KEMR)
    notebook = {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "EMRNotebook",
        "metadata": {"name": "lab", "namespace": "ns"},
        "spec": {
            "clusterRef": {"name": "etl"},
            "s3Location": "s3://team/notebooks/",
            "auth": {"tokenSecretRef": {"name": "lab-token"}},
            **spec,
        },
    }
    api.put(notebook, "emrnotebooks", base=KEMR)
    if secret:
        data = {"token": base64.b64encode(b"s3cret").decode()}
        api.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "lab-token", "namespace": "ns"},
                "data": data,
            },
            "secrets",
        )
    _sync(ctx, api)
    return ctx, api


def _sync(ctx: Context, api: FakeApi) -> None:
    """What the informers and kopf's watches would do: the store catches up with the apiserver."""
    for (_, plural, _, _), obj in api.objects.items():
        ctx.store.upsert(KINDS.get(plural) or obj["kind"], obj)
    for kind in ("Deployment", "Pod"):  # deleted objects leave the cache too
        for obj in ctx.store.all(kind):
            plural = {"Deployment": "deployments", "Pod": "pods"}[kind]
            base = "/apis/apps/v1" if kind == "Deployment" else "/api/v1"
            meta = obj["metadata"]
            if (base, plural, meta["namespace"], meta["name"]) not in api.objects:
                ctx.store.remove(kind, meta["namespace"], meta["name"])


def _reconcile(ctx: Context, api: FakeApi) -> float | None:
    wait = asyncio.run(reconcile_notebook(ctx, "ns", "lab"))
    _sync(ctx, api)
    return wait


def _status(api: FakeApi) -> dict[str, Any]:
    status: dict[str, Any] = api.objects[(KEMR, "emrnotebooks", "ns", "lab")].get("status") or {}
    return status


def _set(api: FakeApi, ctx: Context, plural: str, name: str, path: tuple[str, ...], value: Any) -> None:
    obj = api.objects[(KEMR, plural, "ns", name)]
    target = obj
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + (path[0] == "spec")
    obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1000)
    _sync(ctx, api)


def _pod(api: FakeApi, ctx: Context, *, ready: bool, created: datetime | None = None, **status: Any) -> None:
    """The Deployment's pod, as the ReplicaSet controller and kubelet would make it."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "lab-notebook-5d8f7-abcde",
            "namespace": "ns",
            "labels": {"kemr.io/cluster": "etl", "kemr.io/role": "notebook", "kemr.io/notebook": "lab"},
        },
        "status": {
            "podIP": "10.1.2.3",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            **status,
        },
    }
    stored = api.put(pod, "pods")
    if created is not None:
        stored["metadata"]["creationTimestamp"] = _stamp(created)
        api.objects[("/api/v1", "pods", "ns", pod["metadata"]["name"])] = stored
    _sync(ctx, api)


def _events(api: FakeApi) -> list[dict[str, Any]]:
    return [o for o in api.objects.values() if o["kind"] == "Event"]


def test_it_waits_for_a_starting_cluster_and_names_its_state() -> None:
    ctx, api = _context(cluster_state="STARTING")
    _reconcile(ctx, api)
    status = _status(api)
    assert status["state"] == "PENDING"
    assert status["stateChangeReason"]["code"] == "CLUSTER_NOT_READY"
    assert "EMRCluster etl" in status["stateChangeReason"]["message"]
    assert "STARTING" in status["stateChangeReason"]["message"]
    assert DEPLOYMENT not in api.objects


def test_a_missing_cluster_is_named_with_the_field_to_fix() -> None:
    ctx, api = _context(clusterRef={"name": "nope"})
    _reconcile(ctx, api)
    reason = _status(api)["stateChangeReason"]
    assert reason["code"] == "CLUSTER_NOT_FOUND"
    assert "spec.clusterRef.name" in reason["message"]


def test_the_ready_path_starts_a_deployment_then_reads_the_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, api = _context()
    _reconcile(ctx, api)
    deployment = api.objects[DEPLOYMENT]
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "EMRNotebook"
    status = _status(api)
    assert status["state"] == "STARTING"
    assert status["cluster"] == "etl"
    asked: list[tuple[str, str]] = []
    activity = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    async def kernels(url: str, token: str) -> KernelsReport:
        asked.append((url, token))
        return KernelsReport(NotebookKernels(total=2, busy=1), activity)

    monkeypatch.setattr(probes, "jupyter_kernels", kernels)
    _pod(api, ctx, ready=True)
    wait = _reconcile(ctx, api)
    status = _status(api)
    assert status["state"] == "READY"
    assert status["url"] == "/lab"
    assert status["kernels"] == {"total": 2, "busy": 1}
    assert status["lastActivity"] == "2026-11-30T12:00:00Z"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["observedGeneration"]) == ("True", status["observedGeneration"])
    assert asked == [("http://10.1.2.3:8888/api/kernels", "s3cret")]
    assert wait == KERNELS_POLL_SECONDS
    assert "NotebookReady" in [e["reason"] for e in _events(api)]


def test_a_failed_poll_keeps_the_last_values_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, api = _context()
    _reconcile(ctx, api)
    _pod(api, ctx, ready=True)

    async def answers(url: str, token: str) -> KernelsReport:
        return KernelsReport(NotebookKernels(total=1, busy=0), datetime(2026, 11, 30, tzinfo=UTC))

    async def fails(url: str, token: str) -> KernelsReport:
        return KernelsReport(error=f"GET {url}: timed out")

    monkeypatch.setattr(probes, "jupyter_kernels", answers)
    _reconcile(ctx, api)
    monkeypatch.setattr(probes, "jupyter_kernels", fails)
    _reconcile(ctx, api)
    status = _status(api)
    assert status["state"] == "READY"
    assert status["kernels"] == {"total": 1, "busy": 0}
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert "timed out" in ready["message"]


def test_a_terminated_cluster_detaches_the_notebook_and_deletes_its_deployment() -> None:
    ctx, api = _context()
    _reconcile(ctx, api)
    assert DEPLOYMENT in api.objects
    _set(api, ctx, "emrclusters", "etl", ("status", "state"), "TERMINATED")
    _reconcile(ctx, api)
    assert DEPLOYMENT not in api.objects
    status = _status(api)
    assert status["state"] == "STOPPED"
    assert status["stateChangeReason"]["code"] == "CLUSTER_TERMINATED"
    assert status["stateChangeReason"]["message"].startswith("detached: the cluster terminated")
    assert "cluster" not in status
    assert (KEMR, "emrnotebooks", "ns", "lab") in api.objects  # the notebook stays


def test_stop_deletes_the_pod_and_keeps_the_notebook() -> None:
    ctx, api = _context()
    _reconcile(ctx, api)
    _pod(api, ctx, ready=False)
    _set(api, ctx, "emrnotebooks", "lab", ("spec", "stop"), True)
    _reconcile(ctx, api)
    assert DEPLOYMENT not in api.objects
    assert _status(api)["state"] == "STOPPING"  # its pod is still going
    del api.objects[("/api/v1", "pods", "ns", "lab-notebook-5d8f7-abcde")]
    _sync(ctx, api)
    assert _reconcile(ctx, api) is None
    status = _status(api)
    assert (status["state"], status["stateChangeReason"]["code"]) == ("STOPPED", "USER_REQUEST")
    _set(api, ctx, "emrnotebooks", "lab", ("spec", "stop"), False)  # and starts again
    _reconcile(ctx, api)
    assert DEPLOYMENT in api.objects
    assert _status(api)["state"] == "STARTING"


def test_a_missing_secret_names_the_field_and_starts_nothing() -> None:
    ctx, api = _context(secret=False)
    wait = _reconcile(ctx, api)
    status = _status(api)
    assert status["state"] == "PENDING"
    assert status["stateChangeReason"]["code"] == "SECRET_NOT_FOUND"
    assert "spec.auth.tokenSecretRef" in status["stateChangeReason"]["message"]
    assert '"lab-token"' in status["stateChangeReason"]["message"]
    assert DEPLOYMENT not in api.objects
    assert wait is not None  # Secrets are not watched: looked for again
    warnings = [e for e in _events(api) if e["type"] == "Warning"]
    assert warnings
    assert "spec.auth.tokenSecretRef" in warnings[0]["message"]


def test_a_secret_without_the_key_names_the_key_field() -> None:
    ctx, api = _context(auth={"tokenSecretRef": {"name": "lab-token", "key": "jupyter"}})
    _reconcile(ctx, api)
    message = _status(api)["stateChangeReason"]["message"]
    assert 'no key "jupyter"' in message
    assert "spec.auth.tokenSecretRef.key" in message


def test_a_failing_pod_is_reported_at_once_and_failed_after_the_bound() -> None:
    ctx, api = _context()
    _reconcile(ctx, api)
    waiting = {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}
    crash = [{"name": "notebook", **waiting}]
    _pod(api, ctx, ready=False, containerStatuses=crash)
    _reconcile(ctx, api)
    status = _status(api)
    assert status["state"] == "STARTING"
    assert status["stateChangeReason"]["code"] == "POD_NOT_RUNNING"
    assert "ImagePullBackOff" in status["stateChangeReason"]["message"]
    # Eleven minutes later (the pod and the Ready condition as old as that): FAILED, with a Warning Event.
    long_ago = datetime.now(UTC) - timedelta(minutes=11)
    notebook = api.objects[(KEMR, "emrnotebooks", "ns", "lab")]
    for c in notebook["status"]["conditions"]:
        c["lastTransitionTime"] = _stamp(long_ago)
    del api.objects[("/api/v1", "pods", "ns", "lab-notebook-5d8f7-abcde")]
    _pod(api, ctx, ready=False, created=long_ago, containerStatuses=crash)
    _reconcile(ctx, api)
    status = _status(api)
    assert status["state"] == "FAILED"
    assert status["stateChangeReason"]["code"] == "POD_FAILURE"
    assert any(e["reason"] == "NotebookFailed" and e["type"] == "Warning" for e in _events(api))


def test_a_cluster_reconcile_neither_prunes_nor_counts_the_notebook() -> None:
    from kemr.controllers.cluster import reconcile_cluster

    ctx, api = _context()
    _reconcile(ctx, api)
    _pod(api, ctx, ready=True)
    asyncio.run(reconcile_cluster(ctx, "ns", "etl"))
    assert DEPLOYMENT in api.objects


def test_a_second_round_with_nothing_changed_writes_nothing() -> None:
    ctx, api = _context(cluster_state="STARTING")
    _reconcile(ctx, api)
    before = api.snapshot()
    _reconcile(ctx, api)
    assert api.snapshot() == before


def _drain(ctx: Context) -> set[tuple[str, str, str]]:
    async def keys() -> set[tuple[str, str, str]]:
        found = set()
        while len(ctx.queue):
            key = await ctx.queue.get()
            ctx.queue.done(key)  # as a worker would: the key may be queued again
            found.add(key)
        return found

    return asyncio.run(keys())


def test_its_pod_and_its_clusters_changes_wake_the_notebook() -> None:
    from kemr.controllers.run import CHILD_EVENT_BATCH_SECONDS, _on_resource_event, wake_owner

    ctx, api = _context()
    _drain(ctx)
    pod = {
        "metadata": {
            "namespace": "ns",
            "name": "p",
            "labels": {"kemr.io/notebook": "lab", "kemr.io/cluster": "etl"},
        }
    }

    async def woken() -> tuple[int, set[tuple[str, str, str]]]:
        wake_owner(ctx.queue, pod)
        queued_at_once = len(ctx.queue)  # batched: the owners come CHILD_EVENT_BATCH_SECONDS later
        await asyncio.sleep(CHILD_EVENT_BATCH_SECONDS + 0.1)
        found = set()
        while len(ctx.queue):
            key = await ctx.queue.get()
            ctx.queue.done(key)
            found.add(key)
        return queued_at_once, found

    assert asyncio.run(woken()) == (0, {("EMRNotebook", "ns", "lab"), ("EMRCluster", "ns", "etl")})
    cluster = api.objects[(KEMR, "emrclusters", "ns", "etl")]
    _on_resource_event("EMRCluster")(event={"type": "MODIFIED"}, body=cluster, memo={"ctx": ctx})
    assert ("EMRNotebook", "ns", "lab") in _drain(ctx)
    notebook = api.objects[(KEMR, "emrnotebooks", "ns", "lab")]
    _on_resource_event("EMRNotebook")(event={"type": "MODIFIED"}, body=notebook, memo={"ctx": ctx})
    assert _drain(ctx) == {("EMRNotebook", "ns", "lab"), ("EMRCluster", "ns", "etl")}
    assert [n["metadata"]["name"] for n in ctx.store.notebooks_of("ns", "etl")] == ["lab"]


def test_kernels_now_reads_a_ready_notebooks_kernels_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the cluster's idle rule asks just before an idle termination."""
    ctx, api = _context()
    asked: list[str] = []

    async def kernels(url: str, token: str) -> KernelsReport:
        asked.append(token)
        return KernelsReport(NotebookKernels(total=1, busy=1), datetime(2026, 12, 2, tzinfo=UTC))

    monkeypatch.setattr(probes, "jupyter_kernels", kernels)
    notebook = api.objects[(KEMR, "emrnotebooks", "ns", "lab")]
    assert asyncio.run(kernels_now(ctx, notebook)) is None  # not READY: nothing asked
    _reconcile(ctx, api)
    _pod(api, ctx, ready=True)
    _reconcile(ctx, api)
    notebook = api.objects[(KEMR, "emrnotebooks", "ns", "lab")]
    asked.clear()
    report = asyncio.run(kernels_now(ctx, notebook))
    assert report is not None
    assert report.kernels == NotebookKernels(total=1, busy=1)
    assert asked == ["s3cret"]  # read afresh, with the Secret's token
    password = {**notebook, "spec": {**notebook["spec"], "auth": {"passwordSecretRef": {"name": "p"}}}}
    assert asyncio.run(kernels_now(ctx, password)) is None  # no token: Jupyter's API can't be asked
    broken = {**notebook, "spec": {**notebook["spec"], "resources": {"memory": []}}}
    assert asyncio.run(kernels_now(ctx, broken)) is None  # a spec that doesn't parse: unknown, not an error
    del api.objects[("/api/v1", "secrets", "ns", "lab-token")]
    assert asyncio.run(kernels_now(ctx, notebook)) == KernelsReport(error="no token in the Secret")
