"""`DesiredChildren`: a cluster's children built and hashed once per resolution, not once per reconcile.

Building the children (kemr.builders) and hashing each for the apply (kemr.apply.ssa `prepare`: a canonical
JSON dump and a SHA-256 per child) was ~1 ms of a reconcile, most of a no-op one's CPU. Both are pure
functions of the resolution and the owner, and kemr.resolve.memo returns the same ResolvedCluster object
while none of its inputs changed: while it does, so are the children's hashes. Only the hashes are kept
(~2 KiB a cluster, not the ~60 KiB of its manifests): a round that must write a child builds the children
again, once, which costs little beside the writes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from functools import partial
from typing import Any

from kemr.apply.ssa import ObjectKey, Prepared, owner_reference, prepare
from kemr.builders import build_children
from kemr.resolve import ResolvedCluster

# One entry per cluster (a few KiB): 2048 clusters, as kemr.resolve.memo holds. An operator with more
# clusters still works; the least recently reconciled ones build again.
MAX_ENTRIES = 2048

# What an entry was prepared from besides the resolution: the owner reference and namespace it sets.
_Owner = tuple[tuple[tuple[str, Any], ...], str]


class _Rebuild:
    """The children of one resolution and owner, built on first use (at most once a round)."""

    def __init__(self, resolved: ResolvedCluster, owner: Mapping[str, Any]) -> None:
        self._resolved, self._owner = resolved, owner
        self._built: dict[ObjectKey, Prepared] | None = None

    def manifest(self, key: ObjectKey) -> dict[str, Any]:
        if self._built is None:
            built = (prepare(child, self._owner) for child in build_children(self._resolved))
            self._built = {p.key: p for p in built}
        return self._built[key].manifest()


class DesiredChildren:
    """A bounded LRU memo of [prepare(child, owner) for child in build_children(resolved)] per cluster.
    Keyed on the cluster's uid; an entry is used only for the very same ResolvedCluster object (held, so its
    id can't be reused by another) and the same owner reference and namespace, else it is replaced."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[ResolvedCluster, _Owner, tuple[tuple[ObjectKey, str], ...]]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def children(self, resolved: ResolvedCluster, owner: Mapping[str, Any]) -> tuple[Prepared, ...]:
        """The cluster's children prepared to apply, in build order (kemr.apply.ssa `apply_prepared`)."""
        owned_by = (tuple(owner_reference(owner).items()), owner["metadata"]["namespace"])
        cached = self._entries.get(resolved.uid)
        if cached is not None and cached[0] is resolved and cached[1] == owned_by:
            self._entries.move_to_end(resolved.uid)
            rebuild = _Rebuild(resolved, owner)
            return tuple(Prepared(key, digest, partial(rebuild.manifest, key)) for key, digest in cached[2])
        prepared = tuple(prepare(child, owner) for child in build_children(resolved))
        self._entries[resolved.uid] = (resolved, owned_by, tuple((p.key, p.applied_hash) for p in prepared))
        self._entries.move_to_end(resolved.uid)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return prepared

    def forget(self, namespace: str, name: str) -> None:
        """Drops a deleted cluster's entry (by name: its object may be gone from the watch cache)."""
        for uid, (resolved, _, _) in list(self._entries.items()):
            if (resolved.namespace, resolved.name) == (namespace, name):
                del self._entries[uid]
