"""An in-memory apiserver for unit tests of the runtime, the apply layer and the EMR API
(kemr.runtime.client.Client, and `impersonating` as KubeClient has it).

It answers as far as kemr looks: objects by path; lists in name order (as etcd returns them) with
equality-based label selectors (`k=v`, `k==v`, `k!=v`, `k`), a `metadata.name` field selector and a
resourceVersion; create (409 when it exists); server-side apply and JSON merge patch (generation grows when
the spec changes; a `metadata.resourceVersion` in a patch or PUT that is not the stored one: 409 Conflict;
name, namespace, uid and creationTimestamp are kept); delete (a finalizer holds the object with a
deletionTimestamp); and watches fed by every write.

Tests shape it: `put` stores an object as someone else would; `refuse[path]` fails every request to a path,
`fail` the Nth matching request once; `authorize` decides what an impersonated user may do (403 otherwise);
`latency` makes every request wait that long, so that concurrent requests overlap. They read what was asked
of it in `requests` and `count`, what it holds with `stored` and `snapshot`. Never the proof that a feature
works: tests/integration runs against the real apiserver.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kemr.runtime.client import APPLY_PATCH, MERGE_PATCH, ApiError

# What a write never changes (the apiserver keeps the stored values whatever the body says).
IMMUTABLE_METADATA = ("name", "namespace", "uid", "creationTimestamp")

Key = tuple[str, str, str | None, str]  # (base, plural, namespace, name)


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


@dataclass(frozen=True)
class Request:
    """One request made of the fake: its method and path, and the user it impersonated (None: the
    client's own identity)."""

    method: str
    path: str
    where: _Path
    user: str | None = None

    @property
    def plural(self) -> str:
        return self.where.plural

    @property
    def name(self) -> str | None:
        return self.where.name


@dataclass
class _Fault:
    """Fails the `countdown`-th next request with this method on this plural, once."""

    method: str
    plural: str
    error: ApiError
    countdown: int


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key (null removes the key), anything else replaces;
    `target` is not changed."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _selected(labels: Mapping[str, str], selector: str) -> bool:
    """Whether `labels` satisfy an equality-based label selector (`k=v`, `k==v`, `k!=v`, `k` terms)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term not in labels:
            return False
    return True


def _matches(obj: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    """Whether `obj` satisfies the query's labelSelector and its `metadata.name` fieldSelector terms."""
    if not _selected(obj["metadata"].get("labels") or {}, query.get("labelSelector") or ""):
        return False
    for term in filter(None, (query.get("fieldSelector") or "").split(",")):
        key, _, value = term.partition("=")
        if key == "metadata.name" and obj["metadata"]["name"] != value:
            return False
    return True


class FakeApi:
    """`refuse[path] = ApiError(...)` makes every request to that path fail so; `authorize(request)` says
    whether an impersonated user may make a request (default: anything)."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.refuse: dict[str, ApiError] = {}
        self.authorize: Callable[[Request], bool] = lambda request: True
        self.latency = latency
        self._faults: list[_Fault] = []
        self._rv = itertools.count(1)
        self._watchers: list[tuple[_Path, Mapping[str, str], asyncio.Queue[dict[str, Any] | None]]] = []

    # --- the Client protocol ---------------------------------------------------------------------------

    async def request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        """A request as the client's own identity (`options`: body, query, content_type, as in Client)."""
        return await self.serve(None, method, path, **options)

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

    def impersonating(self, username: str) -> Impersonated:
        """A client acting as `username` on the same objects (KubeClient.impersonating)."""
        return Impersonated(self, username)

    async def serve(
        self,
        user: str | None,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One request as `user` (None: the client's own identity, which `authorize` does not judge).
        Raises ApiError: 403 when `authorize` refuses, a refused path's or a due fault's error, and the
        apiserver's own (404, 405, 409)."""
        if self.latency:
            await asyncio.sleep(self.latency)
        where, query = parse(path), query or {}
        request = Request(method, path, where, user)
        self.requests.append(request)
        if user is not None and not self.authorize(request):
            raise ApiError(
                403,
                "Forbidden",
                f'{where.plural} is forbidden: User "{user}" cannot {method.lower()} resource '
                f'"{where.plural}" in the namespace "{where.namespace}"',
            )
        if path in self.refuse:
            raise self.refuse[path]
        self._inject(request)
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
            return self._write(where, merge_patch(self._get(where), body), body)
        elif method == "PUT":
            return self._write(where, copy.deepcopy(body), body)
        elif method == "DELETE":
            return self._delete(where)
        raise ApiError(405, "MethodNotAllowed", f"{method} {path}")

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
        """Stores `obj` as someone else would (no request recorded); returns it as stored. Raises ApiError
        409 when it exists."""
        meta = obj["metadata"]
        return self._create(_Path(base, plural, meta.get("namespace"), None, None), obj)

    def forget(self, namespace: str | None, name: str, plural: str, base: str = "/api/v1") -> None:
        """Removes an object without a watch event (as if the event was missed)."""
        self.objects.pop((base, plural, namespace, name), None)

    def fail(
        self,
        method: str,
        plural: str,
        *,
        nth: int = 1,
        status: int = 422,
        reason: str = "Invalid",
        message: str = "refused by the fake apiserver",
    ) -> None:
        """The `nth` next `method` request on `plural` (an object or the collection) answers
        ApiError(status, reason, message), once."""
        self._faults.append(_Fault(method, plural, ApiError(status, reason, message), nth))

    def stored(
        self, plural: str, namespace: str | None = None, base: str | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the stored objects of `plural` in `namespace` under `base` (None: any), in name
        order."""
        return [
            copy.deepcopy(obj)
            for (b, p, ns, _), obj in sorted(self.objects.items(), key=lambda kv: [k or "" for k in kv[0]])
            if p == plural and base in (None, b) and namespace in (None, ns)
        ]

    def snapshot(self) -> dict[Key, dict[str, Any]]:
        """Every object as it is now (to compare with later: nothing was written)."""
        return copy.deepcopy(self.objects)

    def count(self, method: str, plural: str, *, listing: bool | None = None) -> int:
        """How many `method` requests on `plural` were made (`listing`: True, only of the collection;
        False, only of objects)."""
        return sum(
            1
            for r in self.requests
            if (r.method, r.plural) == (method, plural) and listing in (None, r.name is None)
        )

    # --- the store -------------------------------------------------------------------------------------

    def _inject(self, request: Request) -> None:
        """Counts the request against each fault that matches it; raises the error of one that is due."""
        for fault in self._faults:
            if (fault.method, fault.plural) == (request.method, request.plural):
                fault.countdown -= 1
                if fault.countdown == 0:
                    self._faults.remove(fault)
                    raise fault.error

    def _key(self, where: _Path, name: str | None = None) -> Key:
        return (where.base, where.plural, where.namespace, name or where.name or "")

    def _get(self, where: _Path) -> dict[str, Any]:
        obj = self.objects.get(self._key(where))
        if obj is None:
            raise ApiError(404, "NotFound", f'{where.plural} "{where.name}" not found')
        return obj

    def _list(self, where: _Path, query: Mapping[str, str]) -> dict[str, Any]:
        items = [o for o in self.stored(where.plural, where.namespace, where.base) if _matches(o, query)]
        return {"metadata": {"resourceVersion": str(next(self._rv))}, "items": items}

    def _stamp(self, obj: dict[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        before = (old or {}).get("metadata", {})
        meta.update({field: before[field] for field in IMMUTABLE_METADATA if field in before})
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())
        meta["resourceVersion"] = str(next(self._rv))
        generation = before.get("generation", 0)
        if old is None or old.get("spec") != obj.get("spec"):
            generation += 1
        meta["generation"] = generation
        return obj

    def _create(self, where: _Path, body: Mapping[str, Any]) -> dict[str, Any]:
        obj: dict[str, Any] = copy.deepcopy(dict(body))
        if "name" not in obj["metadata"]:  # generateName
            obj["metadata"]["name"] = f"{obj['metadata']['generateName']}{next(self._rv):05d}"
        name = obj["metadata"]["name"]
        key = self._key(where, name)
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", f'{where.plural} "{name}" already exists')
        self._stamp(obj, None)
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
        """Stores `obj` for the object at `where`, unless `request` (the patch or PUT body) names another
        resourceVersion: ApiError 409 Conflict, as the apiserver words it."""
        old = self._get(where)
        wanted_rv = (request.get("metadata") or {}).get("resourceVersion")
        if wanted_rv is not None and wanted_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {where.plural} "{where.name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        obj = self._stamp(copy.deepcopy(obj), old)  # a copy: a merge shares the old object's members
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
            held = merge_patch(obj, {"metadata": {"deletionTimestamp": "2026-11-30T00:00:00Z"}})
            return self._write(where, held, {})
        del self.objects[self._key(where)]
        self._notify("DELETED", where, obj)
        return {"kind": "Status", "status": "Success"}

    def _notify(self, kind: str, where: _Path, obj: Mapping[str, Any]) -> None:
        for watched, query, queue in self._watchers:
            same = (watched.base, watched.plural) == (where.base, where.plural)
            if same and watched.namespace in (None, where.namespace) and _matches(obj, query):
                queue.put_nowait({"type": kind, "object": copy.deepcopy(dict(obj))})


class Impersonated:
    """The fake acting as `user` (KubeClient.impersonating): the same objects, each request judged by the
    fake's `authorize`."""

    def __init__(self, api: FakeApi, user: str) -> None:
        self.api, self.user = api, user

    def impersonating(self, username: str) -> Impersonated:
        return Impersonated(self.api, username)

    async def request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        """As FakeApi.request, as `user`."""
        return await self.api.serve(self.user, method, path, **options)

    def watch(self, path: str, query: Mapping[str, str], timeout: float) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError("the fake does not authorize watches: none is made as another user")

    async def close(self) -> None:
        return None
