"""The API calls of `kubectl emr`, synchronous, through the official client and the user's kubeconfig
(KUBECONFIG, --kubeconfig, --context), as kubectl itself would make them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kemr.api.constants import (
    CLUSTER_KIND,
    CLUSTER_PLURAL,
    GROUP,
    NOTEBOOK_KIND,
    NOTEBOOK_PLURAL,
    STEP_KIND,
    STEP_PLURAL,
    VERSION,
)

FIELD_MANAGER = "kubectl-emr"
PLURALS = {CLUSTER_KIND: CLUSTER_PLURAL, STEP_KIND: STEP_PLURAL, NOTEBOOK_KIND: NOTEBOOK_PLURAL}


class PluginError(Exception):
    """Something the user can act on; printed as `error: <message>`, exit code 1."""


class ServerError(PluginError):
    """The API server said no: its status code, reason and message (kubectl's "Error from server")."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"Error from server ({reason}): {message}")
        self.status, self.reason, self.server_message = status, reason, message


def server_error(err: ApiException) -> ServerError:
    try:
        body = json.loads(err.body or "{}")
    except ValueError:
        body = {}
    message = body.get("message") or (err.body or err.reason or "").strip()
    return ServerError(int(err.status or 0), str(body.get("reason") or err.reason or "Error"), str(message))


class Kube:
    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        try:
            api = config.new_client_from_config(config_file=kubeconfig, context=context)
            contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
            chosen: dict[str, Any] = (
                next((c for c in contexts if c["name"] == context), active) if context else active
            )
            self.default_namespace = str((chosen.get("context") or {}).get("namespace") or "default")
        except config.ConfigException as err:
            raise PluginError(
                f"no usable kubeconfig ({err}): check KUBECONFIG, --kubeconfig and --context"
            ) from None
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ApiException as err:
            raise server_error(err) from None

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        try:
            obj = cast(
                "dict[str, Any]",
                self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind], name),
            )
        except ApiException as err:
            if err.status == 404:
                raise PluginError(f'{kind} "{name}" not found in namespace "{namespace}"') from None
            raise server_error(err) from None
        return obj

    def list_objects(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        if namespace is None:
            answer = self._call(self.custom.list_cluster_custom_object, GROUP, VERSION, PLURALS[kind])
        else:
            answer = self._call(
                self.custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURALS[kind]
            )
        items: list[dict[str, Any]] = answer.get("items") or []
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        obj: dict[str, Any] = self._call(
            self.custom.create_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURALS[kind],
            body,
            field_manager=FIELD_MANAGER,
        )
        return obj

    def merge_patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        obj: dict[str, Any] = self._call(
            self.custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURALS[kind],
            name,
            patch,
            field_manager=FIELD_MANAGER,
            _content_type="application/merge-patch+json",
        )
        return obj

    def events(self, kind: str, namespace: str, name: str) -> list[dict[str, Any]]:
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        answer = self._call(self.core.list_namespaced_event, namespace, field_selector=selector)
        return [client.ApiClient().sanitize_for_serialization(e) for e in answer.items]

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The pod as the apiserver returns it (camelCase JSON), or None when there is none."""
        try:
            answer = self.core.read_namespaced_pod(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise server_error(err) from None
        return cast("dict[str, Any]", client.ApiClient().sanitize_for_serialization(answer))

    def pods_labelled(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The pods matching a label selector (`k=v,k2=v2`), as the apiserver returns them."""
        answer = self._call(self.core.list_namespaced_pod, namespace, label_selector=selector)
        return [
            cast("dict[str, Any]", client.ApiClient().sanitize_for_serialization(p)) for p in answer.items
        ]

    def pod_exists(self, namespace: str, name: str) -> bool:
        try:
            self.core.read_namespaced_pod(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return False
            raise server_error(err) from None
        return True

    def logs(
        self, namespace: str, pod: str, container: str, follow: bool, tail: int | None
    ) -> Iterator[bytes]:
        """The container's log, as it comes (follows until the container ends with follow=True)."""
        kwargs: dict[str, Any] = {"container": container, "follow": follow, "_preload_content": False}
        if tail is not None:
            kwargs["tail_lines"] = tail
        response = self._call(self.core.read_namespaced_pod_log, pod, namespace, **kwargs)
        try:
            yield from response.stream(4096)
        finally:
            response.release_conn()
