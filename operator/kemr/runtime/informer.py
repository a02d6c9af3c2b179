"""List-then-watch of one kind of child object, server-side filtered by label, feeding the store.

kopf filters labels client-side (it would watch every pod of the cluster); the children of EMRClusters are
found with a label selector instead, so the operator only ever receives its own objects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from kemr.runtime.client import ApiError, Client
from kemr.runtime.kinds import Kind
from kemr.runtime.store import Store

log = logging.getLogger(__name__)

WATCH_SECONDS = 300


class Informer:
    def __init__(
        self,
        kube: Client,
        kind: Kind,
        store: Store,
        label_selector: str,
        on_change: Callable[[Mapping[str, Any]], None],
        namespace: str | None = None,
    ) -> None:
        self.kube, self.kind, self.store = kube, kind, store
        self.label_selector, self.on_change, self.namespace = label_selector, on_change, namespace
        self.synced = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                version = await self._list()
                self.synced.set()
                await self._watch(version)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # any failure: relist after a pause, never die
                log.warning("watch of %s failed (%s); relisting", self.kind.plural, err)
                await asyncio.sleep(2)

    async def _list(self) -> str:
        listing = await self.kube.request(
            "GET", self.kind.collection(self.namespace), query={"labelSelector": self.label_selector}
        )
        seen = set()
        for item in listing.get("items", []):
            item.setdefault("kind", self.kind.kind)
            item.setdefault("apiVersion", self.kind.api_version)
            self.store.upsert(self.kind.kind, item)
            seen.add((item["metadata"]["namespace"], item["metadata"]["name"]))
            self.on_change(item)
        for gone in [
            o
            for o in self.store.all(self.kind.kind, self.namespace)
            if (o["metadata"]["namespace"], o["metadata"]["name"]) not in seen
        ]:
            self.store.remove(self.kind.kind, gone["metadata"]["namespace"], gone["metadata"]["name"])
            self.on_change(gone)
        return str(listing["metadata"]["resourceVersion"])

    async def _watch(self, version: str) -> None:
        query = {
            "labelSelector": self.label_selector,
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        while True:
            async for event in self.kube.watch(
                self.kind.collection(self.namespace), query, WATCH_SECONDS + 30
            ):
                obj = event["object"]
                if event["type"] == "ERROR":
                    raise ApiError(int(obj.get("code", 500)), obj.get("reason", ""), obj.get("message", ""))
                query["resourceVersion"] = obj["metadata"]["resourceVersion"]
                if event["type"] == "BOOKMARK":
                    continue
                if event["type"] == "DELETED":
                    self.store.remove(self.kind.kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
                else:
                    self.store.upsert(self.kind.kind, obj)
                self.on_change(obj)
