"""`Resolutions`: resolve_cluster memoized per cluster, so a reconcile where nothing changed resolves nothing.

Every reconcile resolves a cluster twice: as its spec says (validation, the steps' drivers) and again with the
round's sizes (kemr.status.plan: managed scaling, spot fallback, a core group held while it decommissions).
Both are pure functions of their arguments, ~0.4 ms each; the second, done again every round, was a third of
a no-op reconcile's CPU.

A hit needs every input equal, compared rather than trusted: the name and namespace, `metadata.generation`,
the parsed spec (field by field, ~7 µs), the operator's configuration (the same object, else equal) and the
sizes. resolve_cluster reads nothing else (no Secret, ConfigMap or DataCatalog: those are observed, not
resolved), so a hit returns exactly what resolving again would. Errors (ResolveError) are not memoized.

The memo returns the same ResolvedCluster object on every hit: callers must not mutate it (no builder does;
tests/unit/test_resolve_memo.py checks).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from kemr.api import EMRClusterSpec
from kemr.config import OperatorConfig
from kemr.resolve.cluster import resolve_cluster
from kemr.resolve.model import ResolvedCluster

# At most two entries per cluster (below): 4096 holds 2048 clusters (~25 KiB each entry, ~100 MiB at most).
# An operator with more clusters still works; the least recently reconciled ones resolve again.
MAX_ENTRIES = 4096

# What the sizes arguments hold, as hashable and order-free as resolve_cluster reads them: task replicas,
# spot groups moved to on-demand, on-demand fallback counts, held core replicas, decommissioning pod IPs.
Sizes = tuple[
    tuple[tuple[str, int], ...],
    frozenset[str],
    tuple[tuple[str, int], ...],
    tuple[tuple[str, int], ...],
    tuple[str, ...],
]
# No sizes passed (or only empty ones, the same to resolve_cluster): the cluster as its spec says.
NO_SIZES: Sizes = ((), frozenset(), (), (), ())


@dataclass(frozen=True)
class _Inputs:
    """Everything resolve_cluster's result depends on besides the uid (the entry's key)."""

    name: str
    namespace: str
    generation: int
    spec: EMRClusterSpec
    config: OperatorConfig
    sizes: Sizes


def sizes_of(
    task_replicas: Mapping[str, int] | None,
    spot_fallback_groups: Collection[str],
    on_demand_fallback: Mapping[str, int] | None,
    core_replicas: Mapping[str, int] | None,
    decommissioning: Sequence[str],
) -> Sizes:
    """resolve_cluster's keyword arguments in a comparable form (None and empty are the same to it; the
    decommissioning IPs are a set to it, sorted)."""
    return (
        tuple(sorted((task_replicas or {}).items())),
        frozenset(spot_fallback_groups),
        tuple(sorted((on_demand_fallback or {}).items())),
        tuple(sorted((core_replicas or {}).items())),
        tuple(sorted(set(decommissioning))),
    )


class Resolutions:
    """A bounded LRU memo of resolve_cluster. Keyed on (uid, whether the sizes are other than NO_SIZES): one
    entry for the cluster as its spec says and one for its latest sizes, each replaced when any input
    (`_Inputs`) differs, so a changed spec, generation or configuration misses and a cluster's stale
    resolutions don't pile up."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, bool], tuple[_Inputs, ResolvedCluster]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def resolve(
        self,
        name: str,
        namespace: str,
        uid: str,
        generation: int,
        spec: EMRClusterSpec,
        config: OperatorConfig,
        *,
        task_replicas: Mapping[str, int] | None = None,
        spot_fallback_groups: Collection[str] = (),
        on_demand_fallback: Mapping[str, int] | None = None,
        core_replicas: Mapping[str, int] | None = None,
        decommissioning: Sequence[str] = (),
    ) -> ResolvedCluster:
        """resolve_cluster(name, namespace, uid, spec, config, ...sizes), remembered. Raises ResolveError
        as it does."""
        sizes = sizes_of(
            task_replicas, spot_fallback_groups, on_demand_fallback, core_replicas, decommissioning
        )
        sized = sizes != NO_SIZES
        inputs = _Inputs(name, namespace, generation, spec, config, sizes)
        key = (uid, sized)
        cached = self._entries.get(key)
        if cached is not None and cached[0] == inputs:
            self._entries.move_to_end(key)
            self.hits += 1
            return cached[1]
        self.misses += 1
        resolved = resolve_cluster(
            name,
            namespace,
            uid,
            spec,
            config,
            task_replicas=task_replicas,
            spot_fallback_groups=spot_fallback_groups,
            on_demand_fallback=on_demand_fallback,
            core_replicas=core_replicas,
            decommissioning=decommissioning,
        )
        self._entries[key] = (inputs, resolved)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return resolved

    def forget(self, namespace: str, name: str) -> None:
        """Drops a deleted cluster's entries (by name: its object may be gone from the watch cache)."""
        for key, (inputs, _) in list(self._entries.items()):
            if (inputs.namespace, inputs.name) == (namespace, name):
                del self._entries[key]
