"""When a cluster began terminating, as steps sent to it are judged (FAILED vs CANCELLED)."""

from datetime import UTC, datetime

from kemr.controllers.step import terminating_since


def cluster(state: str, timeline: dict[str, str] | None, ready_changed: str) -> dict[str, object]:
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": ready_changed}
    return {"status": {"state": state, "timeline": timeline, "conditions": [ready]}}


def test_the_timeline_says_when_termination_began_not_the_ready_condition() -> None:
    # A normal end turns Ready True again at the end; termination began earlier.
    body = cluster("TERMINATED", {"terminating": "2026-01-01T00:00:10Z"}, "2026-01-01T00:01:00Z")
    assert terminating_since(body) == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)


def test_records_from_before_the_timeline_field_fall_back_to_the_ready_condition() -> None:
    body = cluster("TERMINATING", None, "2026-01-01T00:00:20Z")
    assert terminating_since(body) == datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC)


def test_a_cluster_in_service_is_not_terminating() -> None:
    assert terminating_since(cluster("WAITING", {"terminating": "2026-01-01T00:00:10Z"}, "x")) is None
