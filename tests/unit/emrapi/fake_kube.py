"""An in-memory Kubernetes API for the EMR API server's unit tests (kemr.runtime.client.Client, plus
`impersonating` as KubeClient has it).

It answers as far as kemr.emrapi looks: namespaced objects by path (`/api/v1/namespaces/NS/PLURAL[/NAME]`,
`/apis/GROUP/VERSION/namespaces/NS/PLURAL[/NAME]`), lists with equality label selectors (name order, as
etcd returns them), create (generateName, uid, creationTimestamp; 409 when the name exists), JSON merge
patch and PUT (a `metadata.resourceVersion` that differs from the stored one: 409 Conflict), delete. Every
write bumps the object's resourceVersion. An impersonated user (`system:serviceaccount:NS:SA`) may act only
in NS and may not read Secrets (403), as the chart's RBAC has it.

Tests shape it with `add_key`/`add_secret`/`add_object`, inject faults (`fail`: the Nth matching call
answers an error; `interfere`: something else writes just before the Nth matching call), slow it down
(`latency`: every call yields to the event loop for that long, so concurrent requests overlap) and read
what was asked of it (`calls`, `secret_lists`). Never the proof that a feature works against an apiserver:
tests/emrapi does that.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kemr.runtime.client import ApiError

KEY_NAMESPACE = "kemr-system"
KEY_LABEL = "kemr.io/emr-api-key"
MERGE_PATCH = "application/merge-patch+json"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Request:
    """One call made of the fake: who (None: the API's own identity), what, and the parsed path."""

    user: str | None
    method: str
    path: str
    query: Mapping[str, str]
    namespace: str
    plural: str
    name: str | None
    body: Any = None


@dataclass
class Fault:
    """The `nth` call (counted from the fault's creation) matching `method` and `plural` either raises
    ApiError(status, reason, message) or, with `action`, runs `action` first (another writer) and goes on."""

    method: str
    plural: str
    nth: int
    status: int = 422
    reason: str = "Invalid"
    message: str = "refused by the fake apiserver"
    action: Callable[[], None] | None = None
    seen: int = 0
    fired: bool = False

    def matches(self, request: Request) -> bool:
        return request.method == self.method and request.plural == self.plural


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _parse(path: str) -> tuple[str, str, str | None]:
    """(namespace, plural, name) of a namespaced path; ApiError 404 for anything else."""
    parts = path.strip("/").split("/")
    base = 2 if parts[:1] == ["api"] else 3 if parts[:1] == ["apis"] else 0
    rest = parts[base:] if base else []
    if len(rest) not in (3, 4) or rest[0] != "namespaces":
        raise ApiError(404, "NotFound", f"the fake serves namespaced objects only, not {path}")
    return rest[1], rest[2], rest[3] if len(rest) == 4 else None


def _selected(obj: Mapping[str, Any], selector: str) -> bool:
    """Whether the object's labels satisfy a label selector of `k=v`, `k==v`, `k!=v` and `k` terms."""
    labels: Mapping[str, str] = obj["metadata"].get("labels") or {}
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


def _b64(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


class FakeKube:
    """The apiserver's objects and the calls made of it. `impersonating(user)` gives a client acting as
    `user` on the same objects; the fake itself acts as the API's own identity."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (namespace, plural, name) → object
        self.calls: list[Request] = []
        self.faults: list[Fault] = []
        self.latency = latency
        self._versions = itertools.count(1000)

    # ---- the client -----------------------------------------------------------------------------------

    def impersonating(self, username: str) -> Impersonating:
        return Impersonating(self, username)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        return await self.serve(None, method, path, body=body, query=query, content_type=content_type)

    def watch(self, path: str, query: Mapping[str, str], timeout: float) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError("the EMR API does not watch")

    async def close(self) -> None:
        return None

    # ---- what tests set up and read -------------------------------------------------------------------

    def add_secret(self, name: str, data: Mapping[str, str | bytes], *, key_label: bool = True) -> None:
        """A Secret in KEY_NAMESPACE with `data` (base64-encoded here), labelled as an access key's."""
        labels = {KEY_LABEL: "true"} if key_label else {}
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": KEY_NAMESPACE, "labels": labels},
            "data": {k: _b64(v) for k, v in data.items()},
        }
        self.add_object(KEY_NAMESPACE, "secrets", secret)

    def add_key(
        self, access_key_id: str, secret_access_key: str, namespace: str, *, name: str | None = None
    ) -> None:
        """An access key's Secret, as docs/emr-api.md has users create them."""
        data = {"accessKeyId": access_key_id, "secretAccessKey": secret_access_key, "namespace": namespace}
        self.add_secret(name or f"key-{access_key_id.lower()}", data)

    def add_object(self, namespace: str, plural: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Stores `obj` (a copy) as if created by someone else, e.g. kubectl: it keeps the uid and labels it
        has, and gets a uid, resourceVersion and creationTimestamp where it has none."""
        stored: dict[str, Any] = copy.deepcopy(dict(obj))
        metadata = stored.setdefault("metadata", {})
        metadata["namespace"] = namespace
        metadata.setdefault("uid", str(uuid.uuid4()))
        metadata.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        metadata["resourceVersion"] = self._next_version()
        self.objects[(namespace, plural, metadata["name"])] = stored
        return copy.deepcopy(stored)

    def items(self, namespace: str, plural: str) -> list[dict[str, Any]]:
        """The stored objects of a collection (copies), in name order."""
        return [
            copy.deepcopy(obj)
            for (ns, p, _), obj in sorted(self.objects.items())
            if (ns, p) == (namespace, plural)
        ]

    def snapshot(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Every object as it is now (to compare with later: nothing was written)."""
        return copy.deepcopy(self.objects)

    def fail(
        self,
        method: str,
        plural: str,
        *,
        nth: int = 1,
        status: int = 422,
        reason: str = "Invalid",
        message: str = "refused by the fake apiserver",
    ) -> Fault:
        """The `nth` next `method` call on `plural` answers ApiError(status, reason, message), once."""
        fault = Fault(method, plural, nth, status, reason, message)
        self.faults.append(fault)
        return fault

    def interfere(self, method: str, plural: str, action: Callable[[], None], *, nth: int = 1) -> Fault:
        """Just before the `nth` next `method` call on `plural`, `action` runs (another writer), once."""
        fault = Fault(method, plural, nth, action=action)
        self.faults.append(fault)
        return fault

    def patch_object(self, namespace: str, plural: str, name: str, patch: Mapping[str, Any]) -> None:
        """A merge patch by another writer (the operator, kubectl): bumps the resourceVersion."""
        key = (namespace, plural, name)
        self.objects[key] = merge_patch(self.objects[key], dict(patch))
        self.objects[key]["metadata"]["resourceVersion"] = self._next_version()

    def count(self, method: str, plural: str, *, listing: bool | None = None) -> int:
        """How many `method` calls on `plural` were made (`listing`: only collection / only object calls)."""
        return sum(
            1
            for c in self.calls
            if c.method == method and c.plural == plural and (listing is None or listing == (c.name is None))
        )

    @property
    def secret_lists(self) -> int:
        """How many times the Secrets were listed (the key store's reloads)."""
        return self.count("GET", "secrets", listing=True)

    # ---- the apiserver --------------------------------------------------------------------------------

    def _next_version(self) -> str:
        return str(next(self._versions))

    def _inject(self, request: Request) -> None:
        for fault in self.faults:
            if fault.fired or not fault.matches(request):
                continue
            fault.seen += 1
            if fault.seen < fault.nth:
                continue
            fault.fired = True
            if fault.action is not None:
                fault.action()
            else:
                raise ApiError(fault.status, fault.reason, fault.message)

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
        """One call as `user` (None: the API's own identity)."""
        await asyncio.sleep(self.latency)
        namespace, plural, name = _parse(path)
        request = Request(user, method, path, dict(query or {}), namespace, plural, name, copy.deepcopy(body))
        self.calls.append(request)
        if user is not None:
            allowed = user.removeprefix(SERVICE_ACCOUNT_PREFIX).split(":")[0]
            if not user.startswith(SERVICE_ACCOUNT_PREFIX) or allowed != namespace or plural == "secrets":
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{plural} is forbidden: User "{user}" cannot {method.lower()} resource "{plural}" '
                    f'in the namespace "{namespace}"',
                )
        self._inject(request)
        if name is None:
            if method == "GET":
                return self._list(namespace, plural, request.query.get("labelSelector", ""))
            if method == "POST":
                return self._create(namespace, plural, body)
            raise ApiError(405, "MethodNotAllowed", f"{method} on a collection")
        key = (namespace, plural, name)
        if key not in self.objects:
            raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
        if method == "GET":
            return copy.deepcopy(self.objects[key])
        if method == "PATCH":
            if content_type != MERGE_PATCH:
                raise ApiError(415, "UnsupportedMediaType", f"the fake merges {MERGE_PATCH} only")
            return self._write(key, merge_patch(self.objects[key], body), body)
        if method == "PUT":
            return self._write(key, copy.deepcopy(body), body)
        if method == "DELETE":
            return self.objects.pop(key)
        raise ApiError(405, "MethodNotAllowed", method)

    def _list(self, namespace: str, plural: str, selector: str) -> dict[str, Any]:
        items = [obj for obj in self.items(namespace, plural) if _selected(obj, selector)]
        return {"metadata": {"resourceVersion": self._next_version()}, "items": items}

    def _create(self, namespace: str, plural: str, body: Any) -> dict[str, Any]:
        obj: dict[str, Any] = copy.deepcopy(body)
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name"):
            if not metadata.get("generateName"):
                raise ApiError(422, "Invalid", "metadata.name: Required value: name or generateName")
            metadata["name"] = metadata.pop("generateName") + uuid.uuid4().hex[:5]
        metadata.pop("generateName", None)
        if (namespace, plural, metadata["name"]) in self.objects:
            raise ApiError(409, "AlreadyExists", f'{plural} "{metadata["name"]}" already exists')
        metadata.pop("uid", None)
        return self.add_object(namespace, plural, obj)

    def _write(self, key: tuple[str, str, str], new: dict[str, Any], body: Any) -> dict[str, Any]:
        """Stores `new` for the object at `key`, unless the write names another resourceVersion (409)."""
        current = self.objects[key]
        asked = (
            ((body or {}).get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        )
        if asked is not None and asked != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {key[1]} "{key[2]}": the object has been modified; '
                "please apply your changes to the latest version and try again",
            )
        new.setdefault("metadata", {})
        for immutable in ("name", "namespace", "uid", "creationTimestamp"):
            new["metadata"][immutable] = current["metadata"][immutable]
        new["metadata"]["resourceVersion"] = self._next_version()
        self.objects[key] = new
        return copy.deepcopy(new)


class Impersonating:
    """The fake acting as `username` (KubeClient.impersonating)."""

    def __init__(self, fake: FakeKube, username: str) -> None:
        self.fake, self.username = fake, username

    def impersonating(self, username: str) -> Impersonating:
        return Impersonating(self.fake, username)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        return await self.fake.serve(
            self.username, method, path, body=body, query=query, content_type=content_type
        )

    def watch(self, path: str, query: Mapping[str, str], timeout: float) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError("the EMR API does not watch")

    async def close(self) -> None:
        return None
