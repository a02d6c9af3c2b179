"""Reconcile one EMRNotebook, as the stages run (`reconcile_notebook`):

read (the watch cache) → validate (the schema's model) → resolve (its cluster, once per generation, shared
with the cluster's reconciles: `resolved_cluster`; its Secret, read through the API) → decide whether it may
run (kemr.status.notebook `attachment`, pure) → build (kemr.builders.notebook) → apply (its Deployment, or
none: `apply_children` prunes it) → observe (its pod; Jupyter's kernels while READY) → status
(`decide_notebook`, only what changed).

The notebook's pod carries its cluster's labels (the cluster's NetworkPolicy), so it is seen by the
informers like the cluster's children; it is labelled kemr.io/notebook and owned by the EMRNotebook, which
its events wake (kemr.controllers.run `wake_owner`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kemr.api.constants import API_VERSION, CLUSTER_KIND, LABEL_NOTEBOOK, NOTEBOOK_KIND
from kemr.api.notebook import (
    EMRNotebookSpec,
    EMRNotebookStatus,
    NotebookState,
    NotebookStateChangeReason,
)
from kemr.api.notebook import NotebookStateChangeReasonCode as Code
from kemr.apply.ssa import apply_children, patch_status, status_patch
from kemr.builders.notebook import build_notebook_deployment
from kemr.controllers.cluster import owned_by, parse_spec, resolved_cluster
from kemr.controllers.kernels import poll_kernels, read_secret
from kemr.resolve import ResolvedCluster, ResolveError
from kemr.runtime.client import ApiError
from kemr.status.conditions import condition
from kemr.status.notebook import (
    ATTACHABLE_STATES,
    attachment,
    decide_notebook,
    secret_problem,
)

if TYPE_CHECKING:
    from kemr.controllers.run import Context

log = logging.getLogger(__name__)

APPLIED_KINDS = ("Deployment",)
APPLY_RETRY_SECONDS = 10.0


def _key(namespace: str, name: str) -> tuple[str, str]:
    """The notebook's key in the context's per-object maps (apart from an EMRCluster of the same name)."""
    return (namespace, f"{NOTEBOOK_KIND}/{name}")


async def reconcile_notebook(ctx: Context, namespace: str, name: str) -> float | None:
    """One reconcile of an EMRNotebook: read → validate → resolve → decide → build → apply → observe → status.
    Returns the seconds until it should run again (None: on the next event or resync)."""
    # read
    body = ctx.store.get(NOTEBOOK_KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        ctx.fingerprints.pop(_key(namespace, name), None)  # owner references remove the Deployment
        ctx.last_full_apply.pop(_key(namespace, name), None)
        return None
    meta = body["metadata"]
    generation = int(meta.get("generation", 1))
    now = datetime.now(UTC).replace(microsecond=0)
    previous = EMRNotebookStatus.model_validate(body.get("status") or {})
    owner = {"apiVersion": API_VERSION, "kind": NOTEBOOK_KIND, "metadata": meta}
    # validate
    try:
        spec = EMRNotebookSpec.model_validate(body.get("spec") or {})
    except ValidationError as err:
        await _write_invalid(ctx, owner, previous, _first_error(err), generation, now)
        return None
    # resolve: the cluster (as its own reconcile does), then the Secret
    cluster = ctx.store.get(CLUSTER_KIND, namespace, spec.cluster_ref.name)
    resolved, cluster_pod_overrides, cluster_problem = _resolve_cluster(ctx, cluster)
    secret, secret_error = None, None
    if resolved is not None and not spec.stop:
        secret, secret_error = await read_secret(ctx, namespace, spec)
    problem = secret_problem(spec, secret) if secret_error is None and resolved is not None else None
    attach = attachment(spec, namespace, cluster, cluster_problem, problem)
    # build (no more decisions below: what runs follows `attach`)
    desired = []
    if attach.wanted and resolved is not None:
        desired = [build_notebook_deployment(resolved, name, spec, cluster_pod_overrides)]
    # apply
    error = None
    try:
        await _apply(ctx, owner, desired)
    except ApiError as err:  # 403, 422, a quota: into the Synced condition and an Event, retried
        error = err
        log.warning("%s/%s: %s", namespace, name, err)
    # observe
    pods = ctx.store.labelled("Pod", namespace, LABEL_NOTEBOOK, name)
    report = await poll_kernels(spec, attach.wanted, pods, secret, secret_error)
    # status
    decision = decide_notebook(
        previous,
        spec,
        attach,
        pods,
        report,
        (error.reason, error.message) if error else None,
        generation,
        now,
    )
    if patch := status_patch(previous.to_dict(), decision.status.to_dict()):
        updated = await patch_status(ctx.kube, owner, patch)
        ctx.store.upsert(NOTEBOOK_KIND, {"apiVersion": API_VERSION, "kind": NOTEBOOK_KIND, **updated})
    for event in decision.events:
        await ctx.events.record(owner, event.type, event.reason, event.message)
    waits = [decision.requeue_after, APPLY_RETRY_SECONDS if error else None]
    return min((w for w in waits if w is not None), default=None)


def _resolve_cluster(
    ctx: Context, cluster: Mapping[str, Any] | None
) -> tuple[ResolvedCluster | None, Mapping[str, Any] | None, str | None]:
    """(the resolved cluster, its spec.podOverrides, why it can't be resolved) for a WAITING or RUNNING
    cluster; (None, None, None) for any other (the attachment says why the notebook waits)."""
    if cluster is None or (cluster.get("status") or {}).get("state") not in ATTACHABLE_STATES:
        return None, None, None
    spec, issues = parse_spec(cluster)
    if spec is None or issues:
        return None, None, "its spec is invalid: " + "; ".join(str(i) for i in issues)
    try:
        return resolved_cluster(ctx, cluster, spec), spec.pod_overrides, None
    except ResolveError as err:
        return None, None, str(err)


async def _apply(ctx: Context, owner: Mapping[str, Any], desired: list[dict[str, Any]]) -> None:
    """The notebook's Deployment applied, or deleted when none is desired (stopped, detached, pending)."""
    meta = owner["metadata"]
    key = _key(meta["namespace"], meta["name"])
    full = time.monotonic() - ctx.last_full_apply.get(key, ctx.started) >= ctx.options.resync_seconds
    live = [
        o
        for kind in APPLIED_KINDS
        for o in ctx.store.labelled(kind, meta["namespace"], LABEL_NOTEBOOK, meta["name"])
        if owned_by(o, meta["uid"])
    ]
    result = await apply_children(ctx.kube, owner, desired, live, ctx.fingerprints[key], full)
    if full:
        ctx.last_full_apply[key] = time.monotonic()
    if result.writes:
        log.info("%s/%s: applied %d, deleted %d children", *key, len(result.applied), len(result.deleted))


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return ("spec." + where if where else "spec") + f": {first['msg']}"


async def _write_invalid(
    ctx: Context,
    owner: Mapping[str, Any],
    previous: EMRNotebookStatus,
    message: str,
    generation: int,
    now: datetime,
) -> None:
    """A spec the operator can't read (the CRD's schema should have refused it): Ready=False naming the
    field, a Warning Event once. What runs stays as it is."""
    ready = condition(previous.conditions, "Ready", False, "InvalidSpec", message, generation, now)
    others = [c for c in previous.conditions if c.type != "Ready"]
    status = previous.model_copy(
        update={
            "conditions": [ready, *others],
            "observed_generation": generation,
            "state": previous.state or NotebookState.PENDING,
            "state_change_reason": NotebookStateChangeReason(code=Code.VALIDATION_ERROR, message=message),
        }
    )
    if patch := status_patch(previous.to_dict(), status.to_dict()):
        await patch_status(ctx.kube, owner, patch)
        await ctx.events.record(owner, "Warning", "InvalidSpec", message)
