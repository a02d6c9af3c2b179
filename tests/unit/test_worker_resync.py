"""The worker's next wake of a key: what its reconcile asked for, never later than the resync (the resync's
full re-apply restores a child changed while no operator ran: tests/integration/test_operator_runtime.py)."""

from __future__ import annotations

import asyncio

from kemr.config import OperatorConfig
from kemr.controllers.run import Context, Options, worker
from kemr.runtime.queue import WorkQueue
from kemr.runtime.store import Store
from support.fake_api import FakeApi

KEY = ("EMRCluster", "ns", "etl")


def _next_wake(requeue: float | None, resync: float) -> float:
    """Seconds from the reconcile's end to the key's next wake, with a reconcile returning `requeue`."""

    async def run() -> float:
        ctx = Context(
            kube=FakeApi(),
            store=Store(),
            queue=WorkQueue(),
            config=OperatorConfig(),
            options=Options(namespaces=[], kubeconfig=None, resync_seconds=resync),
        )
        done = asyncio.Event()

        async def reconcile(_: Context, namespace: str, name: str) -> float | None:
            done.set()
            return requeue

        task = asyncio.create_task(worker(ctx, {"EMRCluster": reconcile}))
        ctx.queue.add(KEY)
        await done.wait()
        await asyncio.sleep(0)  # the worker schedules the next wake after the reconcile returns
        when = ctx.queue._timers[KEY].when() - asyncio.get_running_loop().time()
        task.cancel()
        return when

    return asyncio.run(run())


def test_the_next_wake_is_the_reconciles_ask_bounded_by_the_resync() -> None:
    assert 4.5 < _next_wake(5, resync=8) <= 5
    assert 7.5 < _next_wake(3600, resync=8) <= 8  # an idle timer an hour away: still within the resync
    assert 7.5 < _next_wake(None, resync=8) <= 8
