"""An in-memory apiserver for unit tests of the runtime and the apply layer (kemr.runtime.client.Client).

It answers as far as kemr looks: objects by path, lists with label/field selectors and a resourceVersion,
create (409 when it exists), server-side apply and merge patch (generation grows when the spec changes; a
`metadata.resourceVersion` in a patch or PUT is checked: 409), delete (a finalizer holds the object with a
deletionTimestamp), and watches fed by every write. Never the proof that a feature works: tests/integration
runs against the real apiserver.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kemr.runtime.client import APPLY_PATCH, MERGE_PATCH, ApiError


@dataclass(frozen=True)
class _Path:
    base: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None


def parse(path: str) -> _Path:
    parts = path.strip("/").split("/")
    base_len = 2 if parts[0] == "api" else 3
    base, rest = "/" + "/".join(parts[:base_len]), parts[base_len:]
    namespace = None
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        namespace, rest = rest[1], rest[2:]
    plural, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
    return _Path(base, plural, namespace, name, sub)


def _merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _matches(obj: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, (query.get("labelSelector") or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    for term in filter(None, (query.get("fieldSelector") or "").split(",")):
        key, _, value = term.partition("=")
        if key == "metadata.name" and obj["metadata"]["name"] != value:
            return False
    return True


class FakeApi:
    """`refuse[path] = ApiError(...)` makes every request to that path fail so."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.refuse: dict[str, ApiError] = {}
        self._rv = itertools.count(1)
        self._watchers: list[tuple[_Path, Mapping[str, str], asyncio.Queue[dict[str, Any] | None]]] = []

    # --- the Client protocol ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        self.requests.append((method, path))
        if path in self.refuse:
            raise self.refuse[path]
        where, query = parse(path), query or {}
        if where.name is None:
            if method == "GET":
                return self._list(where, query)
            if method == "POST":
                return self._create(where, body)
        elif method == "GET":
            return copy.deepcopy(self._get(where))
        elif method == "PATCH" and content_type == APPLY_PATCH:
            return self._apply(where, body)
        elif method == "PATCH" and content_type in (MERGE_PATCH, "application/strategic-merge-patch+json"):
            return self._write(where, _merge(self._get(where), body), body)
        elif method == "PUT":
            return self._write(where, copy.deepcopy(body), body)
        elif method == "DELETE":
            return self._delete(where)
        raise ApiError(405, "MethodNotAllowed", f"{method} {path}")

    async def watch(
        self, path: str, query: Mapping[str, str], timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        entry = (parse(path), query, queue)
        self._watchers.append(entry)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._watchers.remove(entry)

    async def close(self) -> None:
        self.end_watches()

    # --- helpers for tests -----------------------------------------------------------------------------

    def end_watches(self, error: ApiError | None = None) -> None:
        """Ends every open watch, as the apiserver does at its timeout; with `error`, after an ERROR event
        (e.g. 410 Gone: the informer must relist)."""
        for _, _, queue in list(self._watchers):
            if error is not None:
                status = {
                    "kind": "Status",
                    "code": error.status,
                    "reason": error.reason,
                    "message": error.message,
                }
                queue.put_nowait({"type": "ERROR", "object": {"metadata": {}, **status}})
            queue.put_nowait(None)

    def put(self, obj: Mapping[str, Any], plural: str, base: str = "/api/v1") -> dict[str, Any]:
        """Stores `obj` as someone else would (no request recorded); returns it as stored."""
        meta = obj["metadata"]
        return self._create(_Path(base, plural, meta.get("namespace"), None, None), obj)

    def forget(self, namespace: str | None, name: str, plural: str, base: str = "/api/v1") -> None:
        """Removes an object without a watch event (as if the event was missed)."""
        self.objects.pop((base, plural, namespace, name), None)

    # --- the store -------------------------------------------------------------------------------------

    def _key(self, where: _Path, name: str | None = None) -> tuple[str, str, str | None, str]:
        return (where.base, where.plural, where.namespace, name or where.name or "")

    def _get(self, where: _Path) -> dict[str, Any]:
        obj = self.objects.get(self._key(where))
        if obj is None:
            raise ApiError(404, "NotFound", f'{where.plural} "{where.name}" not found')
        return obj

    def _list(self, where: _Path, query: Mapping[str, str]) -> dict[str, Any]:
        items = [
            copy.deepcopy(o)
            for (base, plural, namespace, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
            if (base, plural) == (where.base, where.plural)
            and (where.namespace is None or namespace == where.namespace)
            and _matches(o, query)
        ]
        return {"metadata": {"resourceVersion": str(next(self._rv))}, "items": items}

    def _stamp(self, obj: dict[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._rv))
        meta["uid"] = (old or {}).get("metadata", {}).get("uid") or meta.get("uid") or str(uuid.uuid4())
        generation = (old or {}).get("metadata", {}).get("generation", 0)
        if old is None or old.get("spec") != obj.get("spec"):
            generation += 1
        meta["generation"] = generation
        return obj

    def _create(self, where: _Path, body: Mapping[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(dict(body))
        if "name" not in body["metadata"]:  # generateName
            body["metadata"]["name"] = f"{body['metadata']['generateName']}{next(self._rv):05d}"
        name = body["metadata"]["name"]
        key = self._key(where, name)
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", f'{where.plural} "{name}" already exists')
        obj = self._stamp(copy.deepcopy(dict(body)), None)
        obj["metadata"].setdefault("namespace", where.namespace)
        obj["metadata"]["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.objects[key] = obj
        self._notify("ADDED", where, obj)
        return copy.deepcopy(obj)

    def _apply(self, where: _Path, body: Mapping[str, Any]) -> dict[str, Any]:
        old = self.objects.get(self._key(where))
        if old is None:
            return self._create(where, body)
        merged = copy.deepcopy(dict(body))
        merged["metadata"] = {**old["metadata"], **merged["metadata"]}
        if "status" in old:
            merged["status"] = old["status"]
        return self._write(where, merged, {})

    def _write(self, where: _Path, obj: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
        old = self._get(where)
        wanted_rv = (request.get("metadata") or {}).get("resourceVersion")
        if wanted_rv is not None and wanted_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified; please apply your changes again")
        obj = self._stamp(obj, old)
        if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
            del self.objects[self._key(where)]
            self._notify("DELETED", where, obj)
        else:
            self.objects[self._key(where)] = obj
            self._notify("MODIFIED", where, obj)
        return copy.deepcopy(obj)

    def _delete(self, where: _Path) -> dict[str, Any]:
        obj = self._get(where)
        if obj["metadata"].get("finalizers"):
            held = _merge(obj, {"metadata": {"deletionTimestamp": "2026-11-30T00:00:00Z"}})
            return self._write(where, held, {})
        del self.objects[self._key(where)]
        self._notify("DELETED", where, obj)
        return {"kind": "Status", "status": "Success"}

    def _notify(self, kind: str, where: _Path, obj: Mapping[str, Any]) -> None:
        for watched, query, queue in self._watchers:
            same = (watched.base, watched.plural) == (where.base, where.plural)
            if same and watched.namespace in (None, where.namespace) and _matches(obj, query):
                queue.put_nowait({"type": kind, "object": copy.deepcopy(dict(obj))})
