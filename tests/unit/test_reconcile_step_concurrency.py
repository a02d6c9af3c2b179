"""Steps of one cluster reconciled side by side: their status writes happen after the cluster's step lock is
released, while other steps are decided. stepConcurrency must still hold: with 2, three pending steps
reconciled at once (every request taking a while, so the writes overlap) start exactly the two oldest, in
whatever order their reconciles run."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from kemr.controllers.run import Context
from kemr.controllers.step import reconcile_step
from support.contexts import fake_context
from support.emr import cluster_manifest, step_manifest
from support.fake_api import FakeApi

KEMR = "/apis/kemr.io/v1alpha1"
STEPS = ("a", "b", "c")  # created in this order, a second apart


def _put(api: FakeApi, ctx: Context, manifest: dict[str, Any], plural: str, kind: str) -> None:
    manifest["metadata"]["namespace"] = "ns"
    ctx.store.upsert(kind, api.put(manifest, plural, base=KEMR))


@pytest.mark.parametrize("order", list(itertools.permutations(STEPS)))
def test_steps_reconciled_at_once_never_exceed_step_concurrency(order: tuple[str, ...]) -> None:
    api = FakeApi(latency=0.05)
    ctx = fake_context(api)
    cluster = cluster_manifest("etl", stepConcurrency=2)
    cluster["status"] = {"state": "WAITING"}
    _put(api, ctx, cluster, "emrclusters", "EMRCluster")
    for n, name in enumerate(STEPS):
        step = step_manifest(name, "etl")
        step["metadata"]["creationTimestamp"] = f"2026-12-02T10:00:0{n}Z"
        _put(api, ctx, step, "emrsteps", "EMRStep")

    async def at_once() -> None:
        await asyncio.gather(*(reconcile_step(ctx, "ns", name) for name in order))

    asyncio.run(at_once())
    states = {n: (api.objects[(KEMR, "emrsteps", "ns", n)].get("status") or {}).get("state") for n in STEPS}
    assert states == {"a": "RUNNING", "b": "RUNNING", "c": "PENDING"}
    pods = sorted(o["metadata"]["labels"]["kemr.io/step"] for o in api.objects.values() if o["kind"] == "Pod")
    assert pods == ["a", "b"]
