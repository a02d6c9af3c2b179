"""Leader election (issue 13, kind 7): expiry by this process's own clock, errors retried and reported."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kemr.runtime.client import ApiError
from kemr.runtime.leader import LeaderElector, LeaseClock


def lease(holder: str | None, renew: str, transitions: int = 0) -> dict[str, Any]:
    spec = {
        "holderIdentity": holder,
        "renewTime": renew,
        "leaseDurationSeconds": 15,
        "leaseTransitions": transitions,
    }
    return {"metadata": {"resourceVersion": "1"}, "spec": spec}


def test_expiry_is_judged_by_the_local_clock_not_the_holders_timestamps() -> None:
    clock = LeaseClock()
    # The holder's clock is an hour behind: its renewTime looks ancient, but it keeps changing: alive.
    assert not clock.expired(lease("a", "2026-01-01T00:00:00.000000Z"), now=100.0)
    assert not clock.expired(lease("a", "2026-01-01T00:00:05.000000Z"), now=110.0)
    assert not clock.expired(lease("a", "2026-01-01T00:00:05.000000Z"), now=125.0)  # 15 s since seen change
    assert clock.expired(lease("a", "2026-01-01T00:00:05.000000Z"), now=125.5)  # stopped renewing
    assert clock.expired(lease(None, "2026-01-01T00:00:05.000000Z"), now=126.0)  # released: free at once


def test_a_lease_seen_for_the_first_time_is_given_a_full_duration() -> None:
    clock = LeaseClock()
    assert not clock.expired(lease("a", "2000-01-01T00:00:00.000000Z"), now=0.0)
    assert clock.expired(lease("a", "2000-01-01T00:00:00.000000Z"), now=16.0)


class FakeKube:
    """Answers the Lease requests from a script of results (an exception is raised)."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        self.calls.append(method)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_errors_are_retried_with_backoff_and_make_it_unhealthy_until_it_leads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forbidden = ApiError(403, "Forbidden", 'leases.coordination.k8s.io "kemr-operator" is forbidden')
    kube = FakeKube([forbidden, forbidden, ApiError(404, "NotFound", "no lease"), {"metadata": {}}])
    elector = LeaderElector(kube, "kemr-system")  # type: ignore[arg-type]
    sleeps: list[float] = []
    health: list[str | None] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        health.append(elector.healthy())
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    asyncio.run(elector.acquire())
    assert kube.calls == ["GET", "GET", "GET", "POST"]
    assert sleeps == [10.0, 20.0]  # backoff: doubled from the renew interval (5 s), at most 30 s
    assert all(h and "forbidden" in h for h in health)
    assert elector.leading
    assert elector.healthy() is None
