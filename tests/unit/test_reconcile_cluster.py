"""The cluster reconcile's stages end to end against the in-memory apiserver (no cluster): children built and
applied, status written, nothing sent when nothing changed, a refused child reported as Synced=False."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from kemr.controllers.cluster import reconcile_cluster
from kemr.controllers.run import Context
from kemr.runtime.client import ApiError
from support.contexts import fake_context
from support.emr import cluster_manifest
from support.fake_api import FakeApi

CLUSTERS = "/apis/kemr.io/v1alpha1/namespaces/ns/emrclusters"


def _context() -> tuple[Context, FakeApi]:
    api = FakeApi()
    ctx = fake_context(api)
    manifest = cluster_manifest("etl")
    manifest["metadata"]["namespace"] = "ns"
    ctx.store.upsert("EMRCluster", api.put(manifest, "emrclusters", base="/apis/kemr.io/v1alpha1"))
    return ctx, api


def _sync_store(ctx: Context, api: FakeApi) -> None:
    """What the informers would do: the store catches up with the apiserver."""
    for (_, plural, _, _), obj in api.objects.items():
        kind = {"emrclusters": "EMRCluster"}.get(plural) or obj["kind"]
        ctx.store.upsert(kind, obj)


def _reconcile(ctx: Context) -> float | None:
    return asyncio.run(reconcile_cluster(ctx, "ns", "etl"))


def _cluster(api: FakeApi) -> dict[str, Any]:
    return api.objects[("/apis/kemr.io/v1alpha1", "emrclusters", "ns", "etl")]


def test_a_new_cluster_gets_its_children_and_a_status() -> None:
    ctx, api = _context()
    _reconcile(ctx)
    kinds = sorted({o["kind"] for o in api.objects.values()} - {"EMRCluster", "Event"})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    ]
    status = _cluster(api)["status"]
    assert status["state"] == "STARTING"
    synced = next(c for c in status["conditions"] if c["type"] == "Synced")
    assert synced["status"] == "True"


def test_a_second_round_with_nothing_changed_sends_nothing() -> None:
    ctx, api = _context()
    for _ in range(2):  # the second round sees the children it made (status: waiting for them)
        _reconcile(ctx)
        _sync_store(ctx, api)
    api.requests.clear()
    _reconcile(ctx)
    assert api.requests == []


def test_a_refused_child_is_reported_and_the_rest_applied() -> None:
    ctx, api = _context()
    policy = "/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/etl"
    api.refuse[policy] = ApiError(403, "Forbidden", 'networkpolicies "etl" is forbidden: exceeded quota: q')
    again = _reconcile(ctx)
    status = _cluster(api)["status"]
    synced = next(c for c in status["conditions"] if c["type"] == "Synced")
    assert synced["status"] == "False"
    assert synced["reason"] == "Forbidden"
    assert (
        synced["message"]
        == 'applying NetworkPolicy etl: networkpolicies "etl" is forbidden: exceeded quota: q'
    )
    assert again is not None
    assert again <= 10
    events = [o for o in api.objects.values() if o["kind"] == "Event"]
    assert "ApplyFailed" in [e["reason"] for e in events]
    assert any(o["kind"] == "StatefulSet" for o in api.objects.values())


def _request_history(ctx: Context, api: FakeApi, at: str) -> None:
    cluster = _cluster(api)
    cluster["spec"]["logUri"] = "s3://logs/"
    cluster["metadata"].setdefault("annotations", {})["kemr.io/spark-history-requested"] = at
    ctx.store.upsert("EMRCluster", cluster)


def _history(api: FakeApi) -> list[str]:
    return sorted(
        f"{o['kind']}/{o['metadata']['name']}"
        for o in api.objects.values()
        if (o["metadata"].get("labels") or {}).get("kemr.io/role") == "history"
    )


def test_a_requested_history_server_is_made_then_removed_when_the_request_expires() -> None:
    ctx, api = _context()
    _request_history(ctx, api, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    wait = _reconcile(ctx)
    assert _history(api) == ["NetworkPolicy/etl-history", "Pod/etl-history"]
    assert wait is not None
    assert wait <= 3600
    pod = api.objects[("/api/v1", "pods", "ns", "etl-history")]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "EMRCluster"
    _sync_store(ctx, api)
    _reconcile(ctx)  # the cluster's own apply and prune leave it alone
    assert _history(api) == ["NetworkPolicy/etl-history", "Pod/etl-history"]
    _request_history(ctx, api, "2026-01-01T00:00:00Z")  # an hour and more ago
    _reconcile(ctx)
    assert _history(api) == []


def test_a_history_request_for_a_cluster_without_log_uri_says_why_and_makes_nothing() -> None:
    ctx, api = _context()
    _request_history(ctx, api, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    del _cluster(api)["spec"]["logUri"]
    ctx.store.upsert("EMRCluster", _cluster(api))
    _reconcile(ctx)
    assert _history(api) == []
    events = [o for o in api.objects.values() if o["kind"] == "Event"]
    assert any(e["reason"] == "NoEventLogs" for e in events)


def test_a_changed_spec_is_applied_though_the_last_round_was_remembered() -> None:
    """The memoized resolution and children (ctx.resolutions, ctx.desired) miss when the spec changes, even
    at the same generation."""
    ctx, api = _context()
    for _ in range(2):
        _reconcile(ctx)
        _sync_store(ctx, api)
    body = copy.deepcopy(ctx.store.get("EMRCluster", "ns", "etl"))
    assert body is not None
    body["spec"]["configurations"][0]["properties"]["spark.sql.shuffle.partitions"] = "64"
    ctx.store.upsert("EMRCluster", body)
    api.requests.clear()
    _reconcile(ctx)
    applied = [r.path for r in api.requests if r.method == "PATCH" and "configmaps" in r.path]
    assert applied, api.requests
    sent = [
        o
        for o in api.objects.values()
        if o["kind"] == "ConfigMap" and "spark.sql.shuffle.partitions" in str(o)
    ]
    assert any("64" in str(o["data"]) for o in sent)


def test_the_state_gauge_follows_a_status_changed_elsewhere() -> None:
    """Counting per state is skipped while the namespace's clusters are as counted, not longer: a no-op
    reconcile of one cluster counts another's new state."""
    from kemr.metrics import CLUSTERS

    ctx, api = _context()
    other = cluster_manifest("other")
    other["metadata"]["namespace"] = "ns"
    ctx.store.upsert("EMRCluster", api.put(other, "emrclusters", base="/apis/kemr.io/v1alpha1"))
    for _ in range(2):
        for name in ("etl", "other"):
            asyncio.run(reconcile_cluster(ctx, "ns", name))
        _sync_store(ctx, api)
    assert CLUSTERS.labels("ns", "STARTING")._value.get() == 2
    body = copy.deepcopy(ctx.store.get("EMRCluster", "ns", "etl"))
    assert body is not None
    body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 100)
    body["status"]["state"] = "WAITING"
    ctx.store.upsert("EMRCluster", body)
    api.requests.clear()
    asyncio.run(reconcile_cluster(ctx, "ns", "other"))
    assert api.requests == []  # a no-op round
    assert CLUSTERS.labels("ns", "WAITING")._value.get() == 1
    assert CLUSTERS.labels("ns", "STARTING")._value.get() == 1


def test_a_drifted_child_is_applied_again_from_the_remembered_round() -> None:
    """A round whose children are remembered (ctx.desired keeps only their hashes) builds the manifest again
    for a child someone changed, with the same applied hash."""
    ctx, api = _context()
    for _ in range(2):
        _reconcile(ctx)
        _sync_store(ctx, api)
    sts = copy.deepcopy(ctx.store.get("StatefulSet", "ns", "etl-master"))
    assert sts is not None
    sts["metadata"]["generation"] += 1  # e.g. `kubectl scale`
    sts["metadata"]["resourceVersion"] = str(int(sts["metadata"]["resourceVersion"]) + 100)
    ctx.store.upsert("StatefulSet", sts)
    api.requests.clear()
    _reconcile(ctx)
    assert [(r.method, r.path) for r in api.requests] == [
        ("PATCH", "/apis/apps/v1/namespaces/ns/statefulsets/etl-master")
    ]
    applied = api.objects[("/apis/apps/v1", "statefulsets", "ns", "etl-master")]
    hash_ = applied["metadata"]["annotations"]["kemr.io/applied-hash"]
    assert hash_ == sts["metadata"]["annotations"]["kemr.io/applied-hash"]
    assert applied["spec"]["template"]["spec"]["containers"]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_history_request_from_the_future_lasts_no_longer_than_the_ttl() -> None:
    ctx, api = _context()
    _request_history(ctx, api, "2099-01-01T00:00:00Z")
    wait = _reconcile(ctx)
    assert _history(api) == ["NetworkPolicy/etl-history", "Pod/etl-history"]
    assert wait is not None
    assert wait <= 3600


def test_a_refused_history_server_is_reported_once_and_retried() -> None:
    ctx, api = _context()
    _request_history(ctx, api, _now())
    for _ in range(3):
        api.fail("PATCH", "pods", message="exceeded quota: pods=10")
        wait = _reconcile(ctx)
        assert wait is not None
        assert wait <= 30
    events = [
        o for o in api.objects.values() if o["kind"] == "Event" and o["reason"] == "HistoryServerFailed"
    ]
    assert len(events) == 1
    assert "exceeded quota" in events[0]["message"]


def test_an_ended_history_server_is_started_again_only_on_a_newer_request() -> None:
    ctx, api = _context()
    _request_history(ctx, api, _now())
    _reconcile(ctx)
    pod = api.objects[("/api/v1", "pods", "ns", "etl-history")]
    pod["metadata"]["creationTimestamp"] = (datetime.now(UTC) - timedelta(seconds=10)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    pod["status"] = {
        "phase": "Failed",
        "containerStatuses": [
            {"state": {"terminated": {"exitCode": 1, "message": "403 Forbidden on s3a://logs/"}}}
        ],
    }
    _sync_store(ctx, api)
    # the request the pod was made for (not newer than the pod): no restart loop
    _request_history(ctx, api, pod["metadata"]["creationTimestamp"])
    for _ in range(2):
        _reconcile(ctx)
    assert ("/api/v1", "pods", "ns", "etl-history") in api.objects, "an ended pod isn't deleted and re-made"
    events = [
        o for o in api.objects.values() if o["kind"] == "Event" and o["reason"] == "HistoryServerFailed"
    ]
    assert [e["message"] for e in events] == ["pod etl-history: 403 Forbidden on s3a://logs/"]
    _request_history(ctx, api, "2099-01-01T00:00:00Z")  # asked again (clamped to now, after the pod's start)
    _reconcile(ctx)
    assert ("/api/v1", "pods", "ns", "etl-history") not in api.objects
