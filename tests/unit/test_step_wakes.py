"""Which EMRStep changes wake the step's cluster and its sibling steps: a new or deleted step, a state,
spec or annotation change, and a reconcile that changes a step's state; not the echo of a status write that
kept the state (in a burst of 200 steps, each such echo queued all 200 again)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kemr.config import OperatorConfig
from kemr.controllers.run import Context, Options, _on_resource_event
from kemr.controllers.step import moves_the_queue, reconcile_step
from kemr.runtime.queue import WorkQueue
from kemr.runtime.store import Store
from support.emr import step_manifest
from support.fake_api import FakeApi

KEMR = "/apis/kemr.io/v1alpha1"


def _context() -> tuple[Context, FakeApi]:
    api = FakeApi()
    ctx = Context(
        kube=api,
        store=Store(),
        queue=WorkQueue(),
        config=OperatorConfig(),
        options=Options(namespaces=[], kubeconfig=None),
    )
    return ctx, api


def _step(name: str, state: str | None = None, generation: int = 1) -> dict[str, Any]:
    step = step_manifest(name, "etl")
    step["metadata"].update(namespace="ns", generation=generation, resourceVersion="1")
    step["kind"] = "EMRStep"
    if state:
        step["status"] = {"state": state}
    return step


def _drain(ctx: Context) -> set[tuple[str, str, str]]:
    async def keys() -> set[tuple[str, str, str]]:
        found = set()
        while len(ctx.queue):
            key = await ctx.queue.get()
            ctx.queue.done(key)
            found.add(key)
        return found

    return asyncio.run(keys())


def test_only_a_change_that_can_move_the_queue_moves_it() -> None:
    running = _step("a", "RUNNING")
    written = copy.deepcopy(running)
    written["status"]["timeline"] = {"started": "2026-12-02T14:00:00Z"}
    assert moves_the_queue(None, running)  # new to this process
    assert moves_the_queue(running, None)  # gone
    assert not moves_the_queue(running, written)  # a status write that kept the state
    assert moves_the_queue(running, _step("a", "COMPLETED"))  # a slot freed
    assert moves_the_queue(running, _step("a", "RUNNING", generation=2))  # spec.cancel
    annotated = copy.deepcopy(running)
    annotated["metadata"]["annotations"] = {"kemr.io/x": "y"}
    assert moves_the_queue(running, annotated)


def test_the_echo_of_a_status_write_wakes_the_step_alone() -> None:
    ctx, _ = _context()
    ctx.store.upsert("EMRStep", _step("b", "PENDING"))
    event = _on_resource_event("EMRStep")
    event(event={"type": "ADDED"}, body=_step("a", "RUNNING"), memo={"ctx": ctx})
    assert _drain(ctx) == {("EMRStep", "ns", "a"), ("EMRStep", "ns", "b"), ("EMRCluster", "ns", "etl")}
    echo = _step("a", "RUNNING")
    echo["status"]["timeline"] = {"started": "2026-12-02T14:00:00Z"}
    event(event={"type": "MODIFIED"}, body=echo, memo={"ctx": ctx})
    assert _drain(ctx) == {("EMRStep", "ns", "a")}
    event(event={"type": "MODIFIED"}, body=_step("a", "COMPLETED"), memo={"ctx": ctx})
    assert _drain(ctx) == {("EMRStep", "ns", "a"), ("EMRStep", "ns", "b"), ("EMRCluster", "ns", "etl")}


def test_a_reconcile_that_changes_a_steps_state_wakes_its_cluster_and_siblings() -> None:
    ctx, api = _context()
    for name in ("a", "b"):
        ctx.store.upsert("EMRStep", api.put(_step(name), "emrsteps", base=KEMR))
    asyncio.run(reconcile_step(ctx, "ns", "a"))  # its cluster doesn't exist: FAILED, CLUSTER_NOT_FOUND
    assert api.objects[(KEMR, "emrsteps", "ns", "a")]["status"]["state"] == "FAILED"
    assert _drain(ctx) == {("EMRStep", "ns", "b"), ("EMRCluster", "ns", "etl")}
    asyncio.run(reconcile_step(ctx, "ns", "a"))  # nothing changes: nobody else is woken
    assert _drain(ctx) == set()
