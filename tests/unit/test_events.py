"""apply/events.py's EventRecorder against an in-memory client: inline before `start`, queued after (the
reconcile doesn't wait for the POST), a full queue drops and says so, and `drain` posts what is queued."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from kemr.apply.events import EventRecorder
from support.fake_api import FakeApi

OWNER = {
    "apiVersion": "kemr.io/v1alpha1",
    "kind": "EMRStep",
    "metadata": {"name": "load", "namespace": "ns", "uid": "u"},
}


def events(api: FakeApi) -> list[dict[str, Any]]:
    return [o for o in api.objects.values() if o["kind"] == "Event"]


def test_before_start_an_event_is_posted_before_record_returns() -> None:
    api = FakeApi()
    asyncio.run(EventRecorder(api).record(OWNER, "Normal", "StepPending", "queued"))
    [event] = events(api)
    assert (event["reason"], event["involvedObject"]["uid"]) == ("StepPending", "u")


def test_once_started_record_returns_before_the_post_and_drain_posts_them() -> None:
    api = FakeApi(latency=0.05)

    async def run() -> tuple[int, int]:
        recorder = EventRecorder(api)
        tasks = recorder.start(workers=2)
        for n in range(6):
            await recorder.record(OWNER, "Normal", f"Reason{n}", "m")
        queued = len(events(api))
        await recorder.drain(timeout=5)
        for task in tasks:
            task.cancel()
        return queued, len(events(api))

    queued, posted = asyncio.run(run())
    assert (queued, posted) == (0, 6)


async def _started(api: FakeApi, size: int, *batches: list[str]) -> None:
    """A recorder started with one worker and a queue of `size`: each batch's reasons recorded, then
    drained."""
    recorder = EventRecorder(api)
    tasks = recorder.start(workers=1, size=size)
    for batch in batches:
        for reason in batch:
            await recorder.record(OWNER, "Normal", reason, "m")
        await recorder.drain(timeout=5)
        api.refuse.clear()  # a refusal set up by the test applies to the first batch only
    for task in tasks:
        task.cancel()


def test_a_full_queue_drops_the_event_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeApi()
    with caplog.at_level(logging.WARNING):
        # the first is queued and the worker hasn't run yet: the queue (1) is full for the second
        asyncio.run(_started(api, 1, ["First", "Second"]))
    assert [e["reason"] for e in events(api)] == ["First"]
    assert "dropped Second on ns/load" in caplog.text


def test_a_refused_event_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    from kemr.runtime.client import ApiError

    api = FakeApi()
    api.refuse["/api/v1/namespaces/ns/events"] = ApiError(403, "Forbidden", "events is forbidden")
    with caplog.at_level(logging.WARNING):
        asyncio.run(_started(api, 1000, ["Refused"], ["Posted"]))
    assert [e["reason"] for e in events(api)] == ["Posted"]
    assert "could not record event Refused" in caplog.text
