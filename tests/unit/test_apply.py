"""apply/ssa.py against an in-memory client: unchanged children aren't sent, drift is re-applied, refusals
name the child. The fake answers like the apiserver as far as these functions look (generation,
resourceVersion, Status errors); the real apiserver's behaviour is covered by tests/integration."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from kemr.apply.ssa import Fingerprints, apply_children
from kemr.runtime.client import ApiError

OWNER = {
    "apiVersion": "kemr.io/v1alpha1",
    "kind": "EMRCluster",
    "metadata": {"name": "etl", "namespace": "ns", "uid": "u"},
}


class FakeApi:
    """Objects by path; SSA PATCH stores the body, bumping generation when the spec changes."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str]] = []
        self.refuse: dict[str, ApiError] = {}
        self._rv = 0

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if path in self.refuse:
            raise self.refuse[path]
        self.writes.append((method, path))
        if method == "DELETE":
            self.objects.pop(path, None)
            return {}
        body = copy.deepcopy(kwargs["body"])
        old = self.objects.get(path)
        self._rv += 1
        generation = (old or {}).get("metadata", {}).get("generation", 0)
        if old is None or old.get("spec") != body.get("spec"):
            generation += 1
        body["metadata"].update(resourceVersion=str(self._rv), generation=generation)
        self.objects[path] = body
        return copy.deepcopy(body)

    def edit_spec(self, path: str, **spec: Any) -> None:
        """As `kubectl scale` would: the spec changes, the generation grows."""
        obj = self.objects[path]
        obj["spec"].update(spec)
        self._rv += 1
        obj["metadata"].update(resourceVersion=str(self._rv), generation=obj["metadata"]["generation"] + 1)

    def live(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for o in self.objects.values()]


STS_PATH = "/apis/apps/v1/namespaces/ns/statefulsets/etl-core"


def _sts(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "etl-core", "namespace": "ns"},
        "spec": {"replicas": replicas},
    }


def _run(api: FakeApi, desired: list[dict[str, Any]], prints: Fingerprints, full: bool = False) -> Any:
    return asyncio.run(apply_children(api, OWNER, desired, api.live(), prints, full))  # type: ignore[arg-type]


def test_an_unchanged_child_is_not_sent_again() -> None:
    api, prints = FakeApi(), Fingerprints()
    assert _run(api, [_sts(2)], prints).applied == [("StatefulSet", "etl-core")]
    assert _run(api, [_sts(2)], prints).writes == 0


def test_a_child_changed_by_hand_is_applied_again() -> None:
    api, prints = FakeApi(), Fingerprints()
    _run(api, [_sts(2)], prints)
    api.edit_spec(STS_PATH, replicas=5)
    assert _run(api, [_sts(2)], prints).applied == [("StatefulSet", "etl-core")]
    assert api.objects[STS_PATH]["spec"]["replicas"] == 2
    assert _run(api, [_sts(2)], prints).writes == 0  # and then left alone


def test_a_cache_behind_our_own_apply_is_not_drift() -> None:
    api, prints = FakeApi(), Fingerprints()
    _run(api, [_sts(2)], prints)
    stale = api.live()
    _run(api, [_sts(3)], prints)  # generation 2 now; the cache still shows generation 1 with the old hash
    stale[0]["metadata"]["annotations"] = api.objects[STS_PATH]["metadata"]["annotations"]
    result = asyncio.run(apply_children(api, OWNER, [_sts(3)], stale, prints))  # type: ignore[arg-type]
    assert result.writes == 0


def test_after_a_restart_children_are_trusted_until_the_full_reapply() -> None:
    api = FakeApi()
    _run(api, [_sts(2)], Fingerprints())
    api.edit_spec(STS_PATH, replicas=4)  # while no operator ran
    restarted = Fingerprints()
    assert _run(api, [_sts(2)], restarted).writes == 0
    assert _run(api, [_sts(2)], restarted, full=True).applied == [("StatefulSet", "etl-core")]
    assert api.objects[STS_PATH]["spec"]["replicas"] == 2


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
