"""An in-memory cache of the objects the operator watches, filled by kopf's watch events.

Reconciles read from here instead of listing, so a reconcile with nothing to do sends no request at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from kemr.api.constants import LABEL_CLUSTER, STEP_KIND

Key = tuple[str, str]  # (namespace, name)


class Store:
    def __init__(self) -> None:
        self._objects: dict[str, dict[Key, dict[str, Any]]] = defaultdict(dict)

    def upsert(self, kind: str, obj: Mapping[str, Any]) -> None:
        """Stores `obj`, unless the store holds a newer version of the same object: a watch event that arrives
        after the answer to our own write (both update the store) must not take it back in time."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        held = self._objects[kind].get(key)
        if held is not None and _older(meta, held["metadata"]):
            return
        self._objects[kind][key] = dict(obj)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        self._objects[kind].pop((namespace, name), None)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects[kind].get((namespace, name))

    def all(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [obj for (ns, _), obj in self._objects[kind].items() if namespace is None or ns == namespace]

    def steps_of(self, namespace: str, cluster: str) -> list[dict[str, Any]]:
        """The EMRSteps whose clusterRef names `cluster`."""
        return [
            step
            for step in self.all(STEP_KIND, namespace)
            if ((step.get("spec") or {}).get("clusterRef") or {}).get("name") == cluster
        ]

    def children(self, kind: str, namespace: str, cluster: str) -> list[dict[str, Any]]:
        """Objects of `kind` in `namespace` labelled as belonging to the EMRCluster `cluster`."""
        return self.labelled(kind, namespace, LABEL_CLUSTER, cluster)

    def labelled(self, kind: str, namespace: str, label: str, value: str) -> list[dict[str, Any]]:
        """Objects of `kind` in `namespace` whose label `label` is `value`."""
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
