"""A notebook's kernels as the operator reads them: its Secret (through the API), the token in it, and
Jupyter Server's GET /api/kernels on the notebook's pod. Used by the notebook's reconcile (every
KERNELS_POLL_SECONDS while READY) and by its cluster's, which reads them afresh before an idle termination
(`kernels_now`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kemr.api.constants import LABEL_NOTEBOOK
from kemr.api.notebook import JUPYTER_PORT, EMRNotebookSpec, NotebookState
from kemr.controllers import probes
from kemr.runtime.client import ApiError
from kemr.runtime.kinds import kind_named
from kemr.status.notebook import KernelsReport, notebook_pod, pod_ready, secret_ref

if TYPE_CHECKING:
    from kemr.controllers.run import Context


async def read_secret(
    ctx: Context, namespace: str, spec: EMRNotebookSpec
) -> tuple[dict[str, Any] | None, str | None]:
    """(the Secret, None), (None, None) when it doesn't exist, or (None, why it couldn't be read): e.g. the
    operator may not read Secrets in this namespace (the chart grants `get`). Unreadable is not missing: the
    pod still starts (the kubelet reads the Secret), only the kernels' activity stays unknown."""
    _, ref_name, _ = secret_ref(spec)
    try:
        return await ctx.kube.request("GET", kind_named("Secret").path(namespace, ref_name)), None
    except ApiError as err:
        if err.not_found:
            return None, None
        return None, f"reading Secret {ref_name}: {err.message}"


def _token(spec: EMRNotebookSpec, secret: Mapping[str, Any] | None) -> str | None:
    """The Jupyter token from the Secret's data (base64), None without token auth or a readable value."""
    ref = spec.auth.token_secret_ref
    if ref is None or secret is None:
        return None
    value = (secret.get("data") or {}).get(ref.key)
    try:
        return base64.b64decode(value, validate=True).decode().strip() if value else None
    except (binascii.Error, UnicodeDecodeError):
        return None


async def poll_kernels(
    spec: EMRNotebookSpec,
    wanted: bool,
    pods: list[dict[str, Any]],
    secret: Mapping[str, Any] | None,
    secret_error: str | None,
) -> KernelsReport | None:
    """Jupyter's kernels, when the notebook runs with token auth and its pod is ready; None when not asked."""
    pod = notebook_pod(pods)
    if not wanted or spec.auth.token_secret_ref is None or pod is None or not pod_ready(pod):
        return None
    if secret_error is not None:
        return KernelsReport(error=secret_error)
    token = _token(spec, secret)
    ip = ((pod.get("status") or {}).get("podIP")) or ""
    if token is None or not ip:
        return KernelsReport(error="no token in the Secret" if token is None else "the pod has no IP yet")
    host = f"[{ip}]" if ":" in ip else ip
    return await probes.jupyter_kernels(f"http://{host}:{JUPYTER_PORT}/api/kernels", token)


async def kernels_now(ctx: Context, notebook: Mapping[str, Any]) -> KernelsReport | None:
    """The kernels of a READY EMRNotebook (its object from the store) read now, for its cluster's idle rule
    just before an idle termination; None when they can't be read (not READY, password auth, bad spec)."""
    if (notebook.get("status") or {}).get("state") != NotebookState.READY.value:
        return None
    try:
        spec = EMRNotebookSpec.model_validate(notebook.get("spec") or {})
    except ValidationError:
        return None
    if spec.auth.token_secret_ref is None:
        return None
    namespace, name = notebook["metadata"]["namespace"], notebook["metadata"]["name"]
    secret, secret_error = await read_secret(ctx, namespace, spec)
    pods = ctx.store.labelled("Pod", namespace, LABEL_NOTEBOOK, name)
    return await poll_kernels(spec, True, pods, secret, secret_error)
