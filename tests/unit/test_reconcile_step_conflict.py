"""A step's status write that conflicts (409) leaves the store holding the apiserver's version, so the retry
decides on the current step instead of conflicting forever (seen in a CI rehearsal: a step stuck PENDING)."""

from __future__ import annotations

import asyncio
import copy

import pytest

from kemr.controllers.step import reconcile_step
from kemr.runtime.client import ApiError
from support.contexts import fake_context
from support.emr import step_manifest
from support.fake_api import FakeApi

KEMR = "/apis/kemr.io/v1alpha1"


def test_a_conflict_refreshes_the_step_and_the_retry_goes_through() -> None:
    api = FakeApi()
    ctx = fake_context(api)
    manifest = step_manifest("orphan", "nowhere")
    manifest["metadata"]["namespace"] = "ns"
    stored = api.put(manifest, "emrsteps", base=KEMR)
    stale = copy.deepcopy(stored)
    # Someone else wrote the step after the watch cache saw it, and no event for that write came in.
    api.objects[(KEMR, "emrsteps", "ns", "orphan")]["metadata"]["resourceVersion"] = str(
        int(stored["metadata"]["resourceVersion"]) + 5
    )
    ctx.store.upsert("EMRStep", stale)
    with pytest.raises(ApiError) as err:
        asyncio.run(reconcile_step(ctx, "ns", "orphan"))
    assert err.value.conflict
    refreshed = ctx.store.get("EMRStep", "ns", "orphan")
    assert refreshed is not None
    assert refreshed["metadata"]["resourceVersion"] == str(int(stored["metadata"]["resourceVersion"]) + 5)
    asyncio.run(reconcile_step(ctx, "ns", "orphan"))  # the worker's retry
    status = api.objects[(KEMR, "emrsteps", "ns", "orphan")]["status"]
    assert status["state"] == "FAILED"
    assert status["stateChangeReason"]["code"] == "CLUSTER_NOT_FOUND"
