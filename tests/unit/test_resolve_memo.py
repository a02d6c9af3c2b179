"""kemr.resolve.memo and kemr.apply.desired: a remembered resolution or set of children is used only when
every input is the same, and is what computing it again would give."""

from __future__ import annotations

import copy
from typing import Any

from kemr.api import EMRClusterSpec
from kemr.apply.desired import DesiredChildren
from kemr.apply.ssa import APPLIED_HASH, manifest_hash, owner_reference, prepare, with_owner_and_hash
from kemr.builders import build_children
from kemr.config import OperatorConfig
from kemr.resolve import Resolutions, resolve_cluster
from kemr.runtime.store import Store
from support.emr import cluster_manifest

SIZES: dict[str, Any] = {
    "task_replicas": {"spot": 2},
    "on_demand_fallback": {"spot": 1},
    "core_replicas": {"core": 3},
    "decommissioning": ["10.0.0.2", "10.0.0.1"],
}


def _spec(**changes: Any) -> EMRClusterSpec:
    body = cluster_manifest("etl")["spec"]
    body.update(changes)
    return EMRClusterSpec.model_validate(body)


def _resolve(memo: Resolutions, spec: EMRClusterSpec, generation: int = 1, **kwargs: Any) -> Any:
    return memo.resolve(
        "etl", "ns", "uid-1", generation, spec, kwargs.pop("config", OperatorConfig()), **kwargs
    )


def test_the_same_inputs_give_the_same_resolution_once_resolved() -> None:
    memo, config = Resolutions(), OperatorConfig()
    first = _resolve(memo, _spec(), config=config)
    assert _resolve(memo, _spec(), config=config) is first  # an equal spec parsed again: a hit
    assert _resolve(memo, _spec(), config=OperatorConfig()) is first  # an equal configuration too
    assert (memo.hits, memo.misses) == (2, 1)
    assert first == resolve_cluster("etl", "ns", "uid-1", _spec(), config)


def test_a_changed_spec_generation_or_configuration_resolves_again() -> None:
    memo = Resolutions()
    first = _resolve(memo, _spec())
    changed = _spec(stepConcurrency=3)
    again = _resolve(memo, changed)  # the same generation: the spec itself is compared
    assert again is not first
    assert again == resolve_cluster("etl", "ns", "uid-1", changed, OperatorConfig())
    assert _resolve(memo, changed, generation=2) is not again
    config = OperatorConfig(image_pull_policy="Always")
    other = _resolve(memo, changed, generation=2, config=config)
    assert other.image_pull_policy == "Always"
    assert memo.misses == 4


def test_sizes_are_an_input_and_keep_their_own_entry() -> None:
    memo, spec = Resolutions(), _spec()
    plain = _resolve(memo, spec)
    sized = _resolve(memo, spec, **SIZES)
    assert sized == resolve_cluster("etl", "ns", "uid-1", spec, OperatorConfig(), **SIZES)
    assert [g.replicas for g in sized.core_groups] == [3]
    assert _resolve(memo, spec) is plain  # the sized entry didn't replace the plain one
    reordered = {**SIZES, "decommissioning": ["10.0.0.1", "10.0.0.2", "10.0.0.1"]}
    assert _resolve(memo, spec, **reordered) is sized  # a set of IPs to resolve_cluster
    assert _resolve(memo, spec, **{**SIZES, "task_replicas": {"spot": 3}}) is not sized
    empty: dict[str, Any] = {"task_replicas": {}, "core_replicas": {}, "decommissioning": []}
    assert _resolve(memo, spec, **empty) is plain  # no sizes: the cluster as its spec says
    assert len(memo) == 2


def test_the_memo_is_bounded_and_forgets_deleted_clusters() -> None:
    memo, spec, config = Resolutions(max_entries=2), _spec(), OperatorConfig()
    for uid in ("a", "b", "c"):
        memo.resolve(f"c-{uid}", "ns", uid, 1, spec, config)
    assert len(memo) == 2
    memo.resolve("c-a", "ns", "a", 1, spec, config)  # the least recently used went
    assert memo.misses == 4
    memo.forget("ns", "c-a")
    assert len(memo) == 1


def test_building_children_leaves_the_resolution_as_it_was() -> None:
    """What makes sharing a resolution (and the children prepared from it) between rounds safe."""
    resolved = resolve_cluster("etl", "ns", "uid-1", _spec(), OperatorConfig(), **SIZES)
    before = copy.deepcopy(resolved)
    first = build_children(resolved)
    assert resolved == before
    assert build_children(resolved) == first


OWNER: dict[str, Any] = {
    "apiVersion": "kemr.io/v1alpha1",
    "kind": "EMRCluster",
    "metadata": {"name": "etl", "namespace": "ns", "uid": "uid-1"},
}


def test_a_prepared_child_is_the_manifest_with_the_hash_of_what_is_sent() -> None:
    child = build_children(resolve_cluster("etl", "ns", "uid-1", _spec(), OperatorConfig()))[0]
    prepared = prepare(child, OWNER)
    sent = with_owner_and_hash(child, OWNER)
    assert prepared.manifest() == sent
    assert prepared.manifest() is not prepared.manifest()
    unhashed = copy.deepcopy(sent)
    del unhashed["metadata"]["annotations"][APPLIED_HASH]
    # The hash of before this change: a running cluster's children are not applied again after an upgrade.
    assert prepared.applied_hash == manifest_hash(unhashed) == sent["metadata"]["annotations"][APPLIED_HASH]
    assert sent["metadata"]["ownerReferences"] == [owner_reference(OWNER)]


def test_children_are_prepared_again_only_for_another_resolution_or_owner() -> None:
    memo, desired = Resolutions(), DesiredChildren()
    resolved = _resolve(memo, _spec())
    expected = [with_owner_and_hash(c, OWNER) for c in build_children(resolved)]
    first = desired.children(resolved, OWNER)
    assert [p.manifest() for p in first] == expected
    again = desired.children(_resolve(memo, _spec()), OWNER)
    assert again == first  # keys and hashes remembered
    assert [p.manifest() for p in again] == expected  # built again when asked
    changed = _resolve(memo, _spec(stepConcurrency=3))
    assert desired.children(changed, OWNER) is not again
    moved = {**OWNER, "metadata": {**OWNER["metadata"], "uid": "uid-2"}}
    assert desired.children(changed, moved)[0].manifest()["metadata"]["ownerReferences"][0]["uid"] == "uid-2"
    desired.forget("ns", "etl")
    assert len(desired) == 0


def test_the_store_revision_grows_with_each_change_of_a_namespace() -> None:
    store = Store()
    body = {"metadata": {"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "5"}}
    assert store.revision("EMRCluster", "ns") == 0
    store.upsert("EMRCluster", body)
    assert store.revision("EMRCluster", "ns") == 1
    store.upsert("EMRCluster", {"metadata": {**body["metadata"], "resourceVersion": "4"}})  # older: ignored
    assert store.revision("EMRCluster", "ns") == 1
    assert store.revision("EMRCluster", "other") == store.revision("EMRStep", "ns") == 0
    store.remove("EMRCluster", "ns", "a")
    assert store.revision("EMRCluster", "ns") == 2
