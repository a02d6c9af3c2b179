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
        meta = obj["metadata"]
        self._objects[kind][(meta.get("namespace", ""), meta["name"])] = dict(obj)

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
        return [
            obj
            for obj in self.all(kind, namespace)
            if (obj["metadata"].get("labels") or {}).get(LABEL_CLUSTER) == cluster
        ]
