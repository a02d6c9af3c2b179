"""apply/ssa.py against an in-memory client: unchanged children aren't sent, drift is re-applied, refusals
name the child (tests/support/fake_api.py; the real apiserver's behaviour is covered by tests/integration)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kemr.apply.ssa import Fingerprints, apply_children
from kemr.runtime.client import MERGE_PATCH, ApiError
from support.fake_api import FakeApi

OWNER = {
    "apiVersion": "kemr.io/v1alpha1",
    "kind": "EMRCluster",
    "metadata": {"name": "etl", "namespace": "ns", "uid": "u"},
}


STS_PATH = "/apis/apps/v1/namespaces/ns/statefulsets/etl-core"


def _sts(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "etl-core", "namespace": "ns"},
        "spec": {"replicas": replicas},
    }


def _live(api: FakeApi) -> list[dict[str, Any]]:
    return list(asyncio.run(api.request("GET", "/apis/apps/v1/namespaces/ns/statefulsets"))["items"])


def _run(api: FakeApi, desired: list[dict[str, Any]], prints: Fingerprints, full: bool = False) -> Any:
    return asyncio.run(apply_children(api, OWNER, desired, _live(api), prints, full))


def _scale_by_hand(api: FakeApi, replicas: int) -> None:
    """As `kubectl scale` does: the spec changes, the generation grows."""
    asyncio.run(
        api.request("PATCH", STS_PATH, body={"spec": {"replicas": replicas}}, content_type=MERGE_PATCH)
    )


def _replicas(api: FakeApi) -> int:
    return int(asyncio.run(api.request("GET", STS_PATH))["spec"]["replicas"])


def test_an_unchanged_child_is_not_sent_again() -> None:
    api, prints = FakeApi(), Fingerprints()
    assert _run(api, [_sts(2)], prints).applied == [("StatefulSet", "etl-core")]
    assert _run(api, [_sts(2)], prints).writes == 0


def test_a_child_changed_by_hand_is_applied_again() -> None:
    api, prints = FakeApi(), Fingerprints()
    _run(api, [_sts(2)], prints)
    _scale_by_hand(api, 5)
    assert _run(api, [_sts(2)], prints).applied == [("StatefulSet", "etl-core")]
    assert _replicas(api) == 2
    assert _run(api, [_sts(2)], prints).writes == 0  # and then left alone


def test_a_cache_behind_our_own_apply_is_not_drift() -> None:
    api, prints = FakeApi(), Fingerprints()
    _run(api, [_sts(2)], prints)
    stale = _live(api)
    _run(api, [_sts(3)], prints)  # generation 2 now; the cache still shows generation 1 with the old hash
    stale[0]["metadata"]["annotations"] = _live(api)[0]["metadata"]["annotations"]
    result = asyncio.run(apply_children(api, OWNER, [_sts(3)], stale, prints))
    assert result.writes == 0


def test_after_a_restart_children_are_trusted_until_the_full_reapply() -> None:
    api = FakeApi()
    _run(api, [_sts(2)], Fingerprints())
    _scale_by_hand(api, 4)  # while no operator ran
    restarted = Fingerprints()
    assert _run(api, [_sts(2)], restarted).writes == 0
    assert _run(api, [_sts(2)], restarted, full=True).applied == [("StatefulSet", "etl-core")]
    assert _replicas(api) == 2


def test_a_refused_write_names_the_child() -> None:
    api = FakeApi()
    api.refuse[STS_PATH] = ApiError(403, "Forbidden", 'statefulsets "etl-core" is forbidden: exceeded quota')
    with pytest.raises(ApiError) as err:
        _run(api, [_sts(2)], Fingerprints())
    assert err.value.reason == "Forbidden"
    assert (
        err.value.message
        == 'applying StatefulSet etl-core: statefulsets "etl-core" is forbidden: exceeded quota'
    )


def test_a_refused_child_doesnt_stop_the_others_nor_the_pruning() -> None:
    api = FakeApi()
    _run(api, [_sts(2), {**_sts(1), "metadata": {"name": "etl-old", "namespace": "ns"}}], Fingerprints())
    policy = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "etl-new", "namespace": "ns"},
    }
    api.refuse["/apis/apps/v1/namespaces/ns/statefulsets/etl-new"] = ApiError(403, "Forbidden", "quota")
    with pytest.raises(ApiError):
        _run(api, [_sts(3), {**policy, "spec": {"replicas": 1}}], Fingerprints())
    assert _replicas(api) == 3  # written
    assert [o["metadata"]["name"] for o in _live(api)] == ["etl-core"]  # etl-old pruned all the same
