"""Server-side apply of a parent's desired children under one field manager, and pruning of the rest.

Each child carries the hash of the manifest it was applied from; a child whose live hash equals the desired
one is not sent again, so a reconcile with nothing to change writes nothing.

Drift (a child changed by someone else, e.g. `kubectl scale sts`) keeps that hash, so the hash alone can't see
it. `Fingerprints` remembers, per child, what the apiserver answered to our last apply: its
`metadata.generation` (kinds with a spec the apiserver versions: StatefulSet, Deployment, PDB,
NetworkPolicy) else its `resourceVersion` (ConfigMap, Service, ServiceAccount, Role: nothing else writes
them). A live child whose fingerprint differs was changed since: it is applied again at once. A child this
process never applied (after a restart) is trusted until the owner's periodic full re-apply (`full=True`, the
safety resync), so a restart costs no writes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kemr.api.constants import FIELD_MANAGER
from kemr.runtime.client import APPLY_PATCH, ApiError, Client
from kemr.runtime.kinds import kind_of

APPLIED_HASH = "kemr.io/applied-hash"

ObjectKey = tuple[str, str]  # (kind, name); children live in their parent's namespace


@dataclass
class ApplyResult:
    applied: list[ObjectKey] = field(default_factory=list)
    unchanged: list[ObjectKey] = field(default_factory=list)
    deleted: list[ObjectKey] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.applied) + len(self.deleted)


def manifest_hash(manifest: Mapping[str, Any]) -> str:
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


@dataclass(frozen=True)
class Prepared:
    """A child ready to apply: its (kind, name), the hash its applied-hash annotation carries (16 hex digits,
    `manifest_hash` of the manifest as sent but for that annotation), and how to get that manifest, which a
    round with nothing to write never asks for (kemr.apply.desired then keeps no manifest at all)."""

    key: ObjectKey
    applied_hash: str
    build: Callable[[], dict[str, Any]] = field(compare=False, repr=False)
    """The manifest to send, a new top-level dict each call (the client only reads it)."""

    def manifest(self) -> dict[str, Any]:
        return self.build()


def prepare(child: Mapping[str, Any], owner: Mapping[str, Any]) -> Prepared:
    """The child owned by `owner` (its namespace, a controller owner reference), hashed: the hash covers
    exactly what is sent, but for the hash annotation itself."""
    meta = dict(child["metadata"])
    meta["namespace"] = owner["metadata"]["namespace"]
    meta["ownerReferences"] = [owner_reference(owner)]
    meta["annotations"] = dict(child["metadata"].get("annotations") or {})
    digest = manifest_hash({**child, "metadata": meta})
    sent = {**child, "metadata": {**meta, "annotations": {**meta["annotations"], APPLIED_HASH: digest}}}
    return Prepared((child["kind"], meta["name"]), digest, lambda: dict(sent))


def with_owner_and_hash(child: Mapping[str, Any], owner: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest to send: the child, owned by `owner`, annotated with the hash of exactly what is sent."""
    return prepare(child, owner).manifest()


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    return (obj["kind"], obj["metadata"]["name"])


def fingerprint(obj: Mapping[str, Any]) -> str:
    """What changes when someone changes the object's spec: its generation, else its resourceVersion."""
    meta = obj.get("metadata") or {}
    generation = meta.get("generation")
    return f"g{generation}" if generation is not None else f"rv{meta.get('resourceVersion', '')}"


# One owner's children: (kind, name) → fingerprint of the apiserver's answer to our last apply.
Fingerprints = dict[ObjectKey, str]


def _naming(err: ApiError, obj: Mapping[str, Any], verb: str) -> ApiError:
    """The apiserver's error with the child it was about: `applying StatefulSet x: <message>`."""
    return ApiError(err.status, err.reason, f"{verb} {obj['kind']} {obj['metadata']['name']}: {err.message}")


async def server_side_apply(kube: Client, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Applies `manifest` (field manager kemr-operator, conflicts forced); ApiError names the object."""
    kind = kind_of(dict(manifest))
    meta = manifest["metadata"]
    try:
        return await kube.request(
            "PATCH",
            kind.path(meta.get("namespace"), meta["name"]),
            body=manifest,
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type=APPLY_PATCH,
        )
    except ApiError as err:
        raise _naming(err, manifest, "applying") from err


async def delete(
    kube: Client,
    obj: Mapping[str, Any],
    propagation: str = "Background",
    grace_seconds: int | None = None,
) -> None:
    """Deletes `obj` (gone already is fine); ApiError names the object."""
    kind = kind_of(dict(obj))
    meta = obj["metadata"]
    options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
    if grace_seconds is not None:
        options["gracePeriodSeconds"] = grace_seconds
    try:
        await kube.request("DELETE", kind.path(meta.get("namespace"), meta["name"]), body=options)
    except ApiError as err:
        if not err.not_found:
            raise _naming(err, obj, "deleting") from err


async def create(kube: Client, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Creates `manifest` (a step's driver pod: never applied, so never adopted or changed); returns the
    created object. Raises ApiError as the apiserver answered (409 when it exists)."""
    kind = kind_of(dict(manifest))
    return await kube.request("POST", kind.collection(manifest["metadata"].get("namespace")), body=manifest)


async def merge_patch(kube: Client, obj: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """JSON merge patch of `obj` (annotations, finalizers: fields the operator doesn't apply); returns the
    object. With `metadata.resourceVersion` in `patch`, 409 Conflict if it changed since it was read."""
    kind = kind_of(dict(obj))
    meta = obj["metadata"]
    return await kube.request(
        "PATCH",
        kind.path(meta.get("namespace"), meta["name"]),
        body=patch,
        content_type="application/merge-patch+json",
    )


def _drifted(current: Mapping[str, Any], seen: str | None, full: bool) -> bool:
    """True when the live child is newer than our last apply's answer. Older is the watch cache lagging
    behind that answer, not a change: generations only grow, and so do resourceVersions on every apiserver
    backed by etcd (compared as numbers where they are; any difference counts otherwise)."""
    if seen is None:
        return full
    live = fingerprint(current)
    if live[:1] != seen[:1]:
        return True
    try:
        return int(live.lstrip("grv")) > int(seen.lstrip("grv"))
    except ValueError:
        return live != seen


async def apply_children(
    kube: Client,
    owner: Mapping[str, Any],
    desired: Iterable[Mapping[str, Any]],
    live: Iterable[Mapping[str, Any]],
    fingerprints: Fingerprints | None = None,
    full: bool = False,
) -> ApplyResult:
    """Makes the owner's children exactly `desired`. `live` is what exists now with the owner's child labels
    (from the watch cache): children whose applied hash matches and that nobody changed since our last apply
    (`fingerprints`, updated here) are left alone; `full`: also those this process never applied; children
    not desired are deleted. A refused child doesn't stop the others: after every write was tried, raises the
    first refusal (in the order of `desired`, then of the deletes) as an ApiError naming that child."""
    return await apply_prepared(kube, [prepare(child, owner) for child in desired], live, fingerprints, full)


async def apply_prepared(
    kube: Client,
    wanted: Sequence[Prepared],
    live: Iterable[Mapping[str, Any]],
    fingerprints: Fingerprints | None = None,
    full: bool = False,
) -> ApplyResult:
    """apply_children with the children already prepared (`prepare`), e.g. remembered from an earlier round:
    only those to write are turned back into manifests. Raises as apply_children does."""
    result = ApplyResult()
    live_by_key = {key_of(obj): obj for obj in live}
    seen = fingerprints if fingerprints is not None else {}
    to_apply = []
    for child in wanted:
        key = child.key
        current = live_by_key.get(key)
        current_hash = ((current or {}).get("metadata", {}).get("annotations") or {}).get(APPLIED_HASH)
        unchanged = current is not None and current_hash == child.applied_hash
        if unchanged and not _drifted(current or {}, seen.get(key), full):
            result.unchanged.append(key)
        else:
            to_apply.append(child.manifest())
    wanted_keys = {child.key for child in wanted}
    to_delete = [
        obj
        for key, obj in live_by_key.items()
        if key not in wanted_keys and not obj["metadata"].get("deletionTimestamp")  # being deleted already
    ]
    answers = await asyncio.gather(*(server_side_apply(kube, m) for m in to_apply), return_exceptions=True)
    refused = [a for a in answers if isinstance(a, BaseException)]
    if fingerprints is not None:
        for manifest, answer in zip(to_apply, answers, strict=True):
            if not isinstance(answer, BaseException):
                fingerprints[key_of(manifest)] = fingerprint(answer)
    deleted = await asyncio.gather(*(delete(kube, obj) for obj in to_delete), return_exceptions=True)
    refused += [d for d in deleted if isinstance(d, BaseException)]
    if fingerprints is not None:
        for obj in to_delete:
            fingerprints.pop(key_of(obj), None)
    if refused:  # every other child was written; the first refusal in the children's order is reported
        raise refused[0]
    result.applied = [key_of(m) for m in to_apply]
    result.deleted = [key_of(obj) for obj in to_delete]
    return result


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch from status `old` to `new` (fields gone are sent as null); None when equal."""
    if old == new:
        return None
    return {**{key: None for key in old if key not in new}, **new}


async def patch_status(
    kube: Client, obj: Mapping[str, Any], status: Mapping[str, Any], resource_version: str | None = None
) -> dict[str, Any]:
    """Merge-patches the status subresource (None values remove fields). With `resource_version`, the write
    fails with 409 Conflict if the object changed since it was read (optimistic concurrency)."""
    kind = kind_of(dict(obj))
    meta = obj["metadata"]
    body: dict[str, Any] = {"status": status}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    return await kube.request(
        "PATCH",
        kind.path(meta.get("namespace"), meta["name"]) + "/status",
        body=body,
        content_type="application/merge-patch+json",
    )


async def scale(kube: Client, obj: Mapping[str, Any], replicas: int) -> None:
    """Sets a StatefulSet's or Deployment's spec.replicas: for a child no longer built from the spec (a core
    group being removed), whose other fields must stay as they were applied. Its applied hash is dropped: if
    the spec wants it back, the next apply restores it whole (also in an operator that never applied it)."""
    await merge_patch(
        kube, obj, {"metadata": {"annotations": {APPLIED_HASH: None}}, "spec": {"replicas": replicas}}
    )
