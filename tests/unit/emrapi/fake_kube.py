"""The Kubernetes of the EMR API server's unit tests: tests/support/fake_api.py's in-memory apiserver with
the chart's RBAC for impersonated users, and the access keys and objects the tests put in it.

An impersonated user (`system:serviceaccount:NS:SA`) may act only in NS and may not read Secrets (403), as
the chart's RBAC has it. Tests add keys (`add_key`, `add_secret`) and objects (`add_object`) and read a
collection (`items`) and the key store's reloads (`secret_lists`); faults (`fail`), `latency`, the requests
made (`requests`, `count`) and `snapshot` are FakeApi's. Never the proof that a feature works against an
apiserver: tests/emrapi does that.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kemr.api.constants import GROUP, VERSION
from support.fake_api import FakeApi, Request

KEY_NAMESPACE = "kemr-system"
KEY_LABEL = "kemr.io/emr-api-key"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def _base(plural: str) -> str:
    """The API path a collection is served under: Secrets in the core group, the rest is kemr's."""
    return "/api/v1" if plural == "secrets" else f"/apis/{GROUP}/{VERSION}"


def chart_rbac(request: Request) -> bool:
    """Whether the chart's RBAC lets the impersonated user make `request`: a ServiceAccount, in its own
    namespace, on anything but Secrets."""
    user = request.user or ""
    own_namespace = user.removeprefix(SERVICE_ACCOUNT_PREFIX).split(":")[0]
    return (
        user.startswith(SERVICE_ACCOUNT_PREFIX)
        and own_namespace == request.where.namespace
        and request.plural != "secrets"
    )


class FakeKube(FakeApi):
    """The apiserver's objects and the requests made of it; `impersonating(user)` acts as `user` under
    the chart's RBAC, the fake itself as the API's own identity."""

    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.authorize = chart_rbac

    def add_secret(self, name: str, data: Mapping[str, str | bytes], *, key_label: bool = True) -> None:
        """A Secret in KEY_NAMESPACE with `data` (base64-encoded here), labelled as an access key's."""
        labels = {KEY_LABEL: "true"} if key_label else {}
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": labels},
            "data": {
                k: base64.b64encode(v.encode() if isinstance(v, str) else v).decode() for k, v in data.items()
            },
        }
        self.add_object(KEY_NAMESPACE, "secrets", secret)

    def add_key(
        self, access_key_id: str, secret_access_key: str, namespace: str, *, name: str | None = None
    ) -> None:
        """An access key's Secret, as docs/emr-api.md has users create them."""
        data = {"accessKeyId": access_key_id, "secretAccessKey": secret_access_key, "namespace": namespace}
        self.add_secret(name or f"key-{access_key_id.lower()}", data)

    def add_object(self, namespace: str, plural: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Stores `obj` in `namespace` as if created by someone else, e.g. kubectl (it keeps the uid and
        labels it has); returns it as stored. Raises ApiError 409 when the name is taken."""
        return self.put(
            {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}, plural, _base(plural)
        )

    def items(self, namespace: str, plural: str) -> list[dict[str, Any]]:
        """The stored objects of a collection (copies), in name order."""
        return self.stored(plural, namespace, _base(plural))

    @property
    def secret_lists(self) -> int:
        """How many times the Secrets were listed (the key store's reloads)."""
        return self.count("GET", "secrets", listing=True)
