"""An in-memory cache of the objects the operator watches, filled by kopf's watch events.

Reconciles read from here instead of listing, so a reconcile with nothing to do sends no request at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from kemr.api.constants import LABEL_CLUSTER, NOTEBOOK_KIND, STEP_KIND

# Kinds indexed by the EMRCluster their spec.clusterRef names, not by a label.
_CLUSTER_REF_KINDS = frozenset({STEP_KIND, NOTEBOOK_KIND})

Key = tuple[str, str]  # (namespace, name)


class Store:
    """Objects by kind, with the indexes reconciles look up by (client-go's indexers): by namespace, by the
    kemr.io/cluster label, and EMRSteps and EMRNotebooks by their clusterRef. A lookup costs what it
    returns, not what the
    store holds (profiled: scanning every object of a kind per reconcile made the cost of a reconcile grow
    with the number of clusters). `metadata.managedFields` is dropped on the way in, as client-go's
    informers' transform does: nothing reads it, and it is often the largest part of an object."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[Key, dict[str, Any]]] = defaultdict(dict)
        # Ordered sets (dicts of None): a lookup returns objects in the order they joined its index.
        self._by_namespace: dict[str, dict[str, dict[Key, None]]] = defaultdict(lambda: defaultdict(dict))
        self._by_cluster: dict[str, dict[Key, dict[Key, None]]] = defaultdict(lambda: defaultdict(dict))
        # (kind, namespace) → how many changes its objects have had: a reader can tell "nothing changed".
        self._revisions: dict[Key, int] = defaultdict(int)

    def revision(self, kind: str, namespace: str) -> int:
        """A number that grows with every object of `kind` in `namespace` stored or removed (and only
        then): equal numbers, the same objects. Per Store, starting at 0."""
        return self._revisions[(kind, namespace)]

    @staticmethod
    def _cluster_of(kind: str, obj: Mapping[str, Any]) -> str | None:
        """The EMRCluster an object belongs to: a step's or notebook's clusterRef, a child's kemr.io/cluster
        label."""
        if kind in _CLUSTER_REF_KINDS:
            ref = ((obj.get("spec") or {}).get("clusterRef") or {}).get("name")
            return ref if isinstance(ref, str) else None
        value = (obj["metadata"].get("labels") or {}).get(LABEL_CLUSTER)
        return value if isinstance(value, str) else None

    def _unindex(self, kind: str, key: Key, obj: Mapping[str, Any]) -> None:
        cluster = self._cluster_of(kind, obj)
        if cluster is not None:
            self._by_cluster[kind][(key[0], cluster)].pop(key, None)

    def upsert(self, kind: str, obj: Mapping[str, Any]) -> None:
        """Stores `obj`, unless the store holds a newer version of the same object: a watch event that arrives
        after the answer to our own write (both update the store) must not take it back in time."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        held = self._objects[kind].get(key)
        if held is not None:
            if _older(meta, held["metadata"]):
                return
            self._unindex(kind, key, held)
        stored = dict(obj)
        if "managedFields" in meta:
            stored["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
        self._objects[kind][key] = stored
        self._revisions[(kind, key[0])] += 1
        self._by_namespace[kind][key[0]][key] = None
        cluster = self._cluster_of(kind, stored)
        if cluster is not None:
            self._by_cluster[kind][(key[0], cluster)][key] = None

    def remove(self, kind: str, namespace: str, name: str) -> None:
        key = (namespace, name)
        held = self._objects[kind].pop(key, None)
        if held is not None:
            self._revisions[(kind, namespace)] += 1
            self._by_namespace[kind][namespace].pop(key, None)
            self._unindex(kind, key, held)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects[kind].get((namespace, name))

    def all(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        objects = self._objects[kind]
        if namespace is None:
            return list(objects.values())
        return [objects[key] for key in self._by_namespace[kind].get(namespace, {})]

    def steps_of(self, namespace: str, cluster: str) -> list[dict[str, Any]]:
        """The EMRSteps whose clusterRef names `cluster`."""
        return self._indexed(STEP_KIND, namespace, cluster)

    def notebooks_of(self, namespace: str, cluster: str) -> list[dict[str, Any]]:
        """The EMRNotebooks whose clusterRef names `cluster`."""
        return self._indexed(NOTEBOOK_KIND, namespace, cluster)

    def children(self, kind: str, namespace: str, cluster: str) -> list[dict[str, Any]]:
        """Objects of `kind` in `namespace` labelled as belonging to the EMRCluster `cluster`."""
        if kind in _CLUSTER_REF_KINDS:  # indexed by clusterRef, not by label
            return self.labelled(kind, namespace, LABEL_CLUSTER, cluster)
        return self._indexed(kind, namespace, cluster)

    def _indexed(self, kind: str, namespace: str, cluster: str) -> list[dict[str, Any]]:
        objects = self._objects[kind]
        return [objects[key] for key in self._by_cluster[kind].get((namespace, cluster), {})]

    def labelled(self, kind: str, namespace: str, label: str, value: str) -> list[dict[str, Any]]:
        """Objects of `kind` in `namespace` whose label `label` is `value`."""
        if label == LABEL_CLUSTER and kind not in _CLUSTER_REF_KINDS:
            return self._indexed(kind, namespace, value)
        return [
            obj
            for obj in self.all(kind, namespace)
            if (obj["metadata"].get("labels") or {}).get(label) == value
        ]


def _older(new: Mapping[str, Any], held: Mapping[str, Any]) -> bool:
    """`new` is an older version of the object `held` is (same uid, a smaller resourceVersion).
    resourceVersions are opaque to clients, but every apiserver backed by etcd makes them growing integers;
    anything else (another uid, a non-numeric version) is never judged older."""
    if new.get("uid") != held.get("uid"):
        return False
    try:
        return int(new.get("resourceVersion") or 0) < int(held.get("resourceVersion") or 0)
    except ValueError:
        return False
