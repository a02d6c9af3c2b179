"""The runtime on its own (kemr.runtime), against the in-memory apiserver: the work queue's semantics, the
rate limiter, the informer's list-then-watch and relist, the leader's Lease round trip."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from kemr.runtime.client import ApiError
from kemr.runtime.informer import Informer
from kemr.runtime.kinds import kind_named
from kemr.runtime.leader import LeaderElector
from kemr.runtime.queue import WorkQueue
from kemr.runtime.ratelimit import TokenBucket
from kemr.runtime.store import Store
from support.fake_api import FakeApi


def test_a_key_is_queued_once_and_never_handed_to_two_workers() -> None:
    async def run() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        queue.add("a")
        assert len(queue) == 1
        key = await queue.get()
        queue.add("a")  # changed while a worker has it: dirty, not queued again
        assert len(queue) == 0
        queue.done(key)  # ... until that worker is done
        assert len(queue) == 1
        assert await queue.get() == "a"

    asyncio.run(run())


def test_add_after_keeps_the_earliest_wake_up() -> None:
    async def run() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.add_after("a", 0.05)
        queue.add_after("a", 10)  # later: ignored
        started = time.monotonic()
        assert await asyncio.wait_for(queue.get(), 2) == "a"
        assert time.monotonic() - started < 1

    asyncio.run(run())


def test_the_limiter_allows_the_burst_then_paces_at_qps() -> None:
    async def run() -> list[float]:
        bucket = TokenBucket(qps=20, burst=3)
        return [await bucket.acquire() for _ in range(5)]

    started = time.monotonic()
    waits = asyncio.run(run())
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(w > 0 for w in waits[3:])  # each waited for a token ...
    assert time.monotonic() - started >= 2 / 20 - 0.01  # ... the two after the burst took 1/qps each


def _pod(name: str, cluster: str = "etl") -> dict[str, Any]:
    labels = {"app.kubernetes.io/managed-by": "kemr", "kemr.io/cluster": cluster}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "labels": labels},
    }


def test_the_informer_lists_then_watches_and_relists_after_an_expired_watch() -> None:
    async def run() -> tuple[Store, list[str]]:
        api, store, changes = FakeApi(), Store(), []
        api.put(_pod("a"), "pods")
        api.put({**_pod("other"), "metadata": {"name": "other", "namespace": "ns", "labels": {}}}, "pods")

        def changed(obj: Mapping[str, Any]) -> None:
            changes.append(obj["metadata"]["name"])

        informer = Informer(api, kind_named("Pod"), store, "app.kubernetes.io/managed-by=kemr", changed)
        task = asyncio.create_task(informer.run())
        await asyncio.wait_for(informer.synced.wait(), 2)
        assert [p["metadata"]["name"] for p in store.all("Pod")] == ["a"]  # filtered server-side
        await asyncio.sleep(0)
        api.put(_pod("b"), "pods")  # a watch event
        await asyncio.sleep(0.05)
        assert store.get("Pod", "ns", "b") is not None
        api.forget("ns", "a", "pods")  # deleted while the watch was broken: only a relist can tell
        api.end_watches(ApiError(410, "Expired", "too old resource version"))
        for _ in range(100):  # the informer pauses 2 s before relisting
            if store.get("Pod", "ns", "a") is None:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        return store, changes

    store, changes = asyncio.run(run())
    assert store.get("Pod", "ns", "a") is None
    assert store.get("Pod", "ns", "b") is not None
    assert changes[0] == "a"
    assert "b" in changes
    assert changes[-1] == "a"  # its removal woke its owner


def test_a_leader_takes_a_free_lease_renews_it_and_releases_it() -> None:
    async def run() -> dict[str, Any]:
        api = FakeApi()
        elector = LeaderElector(api, "kemr-system")
        await asyncio.wait_for(elector.acquire(), 5)
        assert elector.leading
        held = await api.request("GET", kind_named("Lease").path("kemr-system", "kemr-operator"))
        assert held["spec"]["holderIdentity"] == elector.identity
        await elector.release()
        released: dict[str, Any] = await api.request(
            "GET", kind_named("Lease").path("kemr-system", "kemr-operator")
        )
        return released

    released = asyncio.run(run())
    assert not released["spec"].get("holderIdentity")


def test_the_store_never_goes_back_in_time() -> None:
    """Our write's answer and the watch event of an older version both reach the store: the newer stays."""
    store = Store()

    def step(rv: str, uid: str = "u1", state: str = "PENDING") -> dict[str, Any]:
        meta = {"name": "s", "namespace": "n", "uid": uid, "resourceVersion": rv}
        return {"metadata": meta, "status": {"state": state}}

    store.upsert("EMRStep", step("17", state="RUNNING"))  # the answer to our status write
    store.upsert("EMRStep", step("15"))  # a watch event that was on its way
    assert store.get("EMRStep", "n", "s") == step("17", state="RUNNING")
    store.upsert("EMRStep", step("3", uid="u2"))  # a new object of the same name
    assert store.get("EMRStep", "n", "s") == step("3", uid="u2")


def _child(name: str, cluster: str | None, version: str = "1", namespace: str = "ns") -> dict[str, Any]:
    labels = {"kemr.io/cluster": cluster} if cluster else {}
    meta = {"name": name, "namespace": namespace, "uid": name, "resourceVersion": version, "labels": labels}
    return {"kind": "Pod", "metadata": {**meta, "managedFields": [{"manager": "kubectl"}]}}


def test_the_store_indexes_children_by_cluster_and_follows_label_changes() -> None:
    store = Store()
    store.upsert("Pod", _child("a", "etl"))
    store.upsert("Pod", _child("b", "etl"))
    store.upsert("Pod", _child("c", "other"))
    store.upsert("Pod", _child("d", "etl", namespace="elsewhere"))
    assert [p["metadata"]["name"] for p in store.children("Pod", "ns", "etl")] == ["a", "b"]
    store.upsert("Pod", _child("b", "other", version="2"))  # relabelled: joins the other cluster, last
    assert [p["metadata"]["name"] for p in store.children("Pod", "ns", "etl")] == ["a"]
    assert [p["metadata"]["name"] for p in store.labelled("Pod", "ns", "kemr.io/cluster", "other")] == [
        "c",
        "b",
    ]
    store.upsert("Pod", _child("b", "etl", version="1"))  # an older event: ignored, index unchanged
    assert [p["metadata"]["name"] for p in store.children("Pod", "ns", "other")] == ["c", "b"]
    store.remove("Pod", "ns", "c")
    assert [p["metadata"]["name"] for p in store.all("Pod", "ns")] == ["a", "b"]
    assert store.children("Pod", "ns", "other")[0]["metadata"]["name"] == "b"
    assert "managedFields" not in store.get("Pod", "ns", "a")["metadata"]  # type: ignore[index]


def test_the_store_indexes_steps_by_cluster_ref() -> None:
    store = Store()
    for name, cluster in (("s1", "etl"), ("s2", "adhoc"), ("s3", "etl")):
        store.upsert(
            "EMRStep",
            {"metadata": {"name": name, "namespace": "ns"}, "spec": {"clusterRef": {"name": cluster}}},
        )
    assert [s["metadata"]["name"] for s in store.steps_of("ns", "etl")] == ["s1", "s3"]
    assert store.steps_of("other-ns", "etl") == []
