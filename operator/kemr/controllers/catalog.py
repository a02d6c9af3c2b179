"""Reconcile one DataCatalog, as the stages run (`reconcile_catalog`):

read (the watch cache) → validate (the schema's model) → resolve (`resolve_catalog`) → observe (its pods, the
EMRClusters that use it) → build (kemr.builders.catalog) → apply (the database's credentials once, the
children, the deletion guard) → status (kemr.status.catalog `decide_catalog`, only what changed).

Deleting a catalog that clusters still use waits (a finalizer, `kemr.io/catalog-in-use`): the metastore and
its database keep serving them until the last one terminates. The admission webhook refuses such a delete up
front with the clusters' names; the finalizer holds when the webhook is off or down.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kemr.api import CLUSTER_FINAL_STATES
from kemr.api.catalog import CatalogState, DataCatalogSpec, DataCatalogStatus
from kemr.api.constants import API_VERSION, CATALOG_KIND, CLUSTER_KIND, LABEL_CATALOG
from kemr.apply.ssa import apply_children, create, merge_patch, patch_status, status_patch
from kemr.builders.catalog import build_catalog_children, build_database_secret
from kemr.resolve.catalog import ResolvedCatalog, resolve_catalog
from kemr.resolve.errors import ResolveError
from kemr.runtime.client import ApiError
from kemr.status.catalog import decide_catalog, observe_catalog
from kemr.status.conditions import condition

if TYPE_CHECKING:
    from kemr.controllers.run import Context

log = logging.getLogger(__name__)

FINALIZER = "kemr.io/catalog-in-use"
# Child kinds the catalog reconcile applies and prunes (its Secret is created once, never applied).
APPLIED_KINDS = ("ConfigMap", "Service", "StatefulSet", "Deployment")
PROGRESS_RECHECK_SECONDS = 15.0  # while not ready, in case a child event is missed
APPLY_RETRY_SECONDS = 10.0
FINAL_STATES = frozenset(s.value for s in CLUSTER_FINAL_STATES)


def _key(namespace: str, name: str) -> tuple[str, str]:
    """The catalog's key in the context's per-object maps (apart from an EMRCluster of the same name)."""
    return (namespace, f"{CATALOG_KIND}/{name}")


def clusters_using(ctx: Context, namespace: str, catalog: str) -> list[str]:
    """EMRClusters in `namespace`, not terminated nor being deleted, whose spec.catalog names `catalog`."""
    return sorted(
        c["metadata"]["name"]
        for c in ctx.store.all(CLUSTER_KIND, namespace)
        if ((c.get("spec") or {}).get("catalog") or {}).get("name") == catalog
        and (c.get("status") or {}).get("state") not in FINAL_STATES
        and not c["metadata"].get("deletionTimestamp")
    )


async def reconcile_catalog(ctx: Context, namespace: str, name: str) -> float | None:
    """One reconcile of a DataCatalog: read → validate → resolve → observe → build → apply → status. Returns
    the seconds until it should run again (None: on the next event or resync)."""
    # read
    body = ctx.store.get(CATALOG_KIND, namespace, name)
    if body is None:  # gone: forget it (a catalog re-created under its name starts afresh)
        ctx.fingerprints.pop(_key(namespace, name), None)
        ctx.last_full_apply.pop(_key(namespace, name), None)
        ctx.catalog_secrets.discard((namespace, f"{name}-db-credentials"))
        return None
    meta = body["metadata"]
    generation = int(meta.get("generation", 1))
    now = datetime.now(UTC).replace(microsecond=0)
    previous = DataCatalogStatus.model_validate(body.get("status") or {})
    owner = {"apiVersion": API_VERSION, "kind": CATALOG_KIND, "metadata": meta}
    deleting = bool(meta.get("deletionTimestamp"))
    # validate, resolve
    try:
        spec = DataCatalogSpec.model_validate(body.get("spec") or {})
        resolved = resolve_catalog(name, namespace, meta["uid"], spec, ctx.config)
    except (ValidationError, ResolveError) as err:
        message = str(err) if isinstance(err, ResolveError) else _first_error(err)
        await _write_invalid(ctx, owner, previous, message, generation, now)
        if deleting and not clusters_using(ctx, namespace, name):  # a spec gone bad never blocks a delete
            await _set_finalizer(ctx, owner, present=False)
        return None
    # observe
    pods = ctx.store.labelled("Pod", namespace, LABEL_CATALOG, name)
    observed = observe_catalog(pods, resolved.database.in_cluster, clusters_using(ctx, namespace, name))
    # build, apply
    error = None
    try:
        await _apply(ctx, owner, resolved, deleting)
    except ApiError as err:  # 403, 422, a quota: into the Synced condition and an Event, retried
        error = err
        log.warning("%s/%s: %s", namespace, name, err)
    # status
    decision = decide_catalog(
        previous,
        observed,
        endpoint=resolved.endpoint,
        database=resolved.database.jdbc_url,
        deleting=deleting,
        apply_error=(error.reason, error.message) if error else None,
        generation=generation,
        now=now,
    )
    if patch := status_patch(previous.to_dict(), decision.status.to_dict()):
        updated = await patch_status(ctx.kube, owner, patch)
        ctx.store.upsert(CATALOG_KIND, {"apiVersion": API_VERSION, "kind": CATALOG_KIND, **updated})
        owner = {**owner, "metadata": updated["metadata"]}  # its resourceVersion, for the finalizer's patch
    for event in decision.events:
        await ctx.events.record(owner, event.type, event.reason, event.message)
    if decision.release_finalizer:
        await _set_finalizer(ctx, owner, present=False)
        return None
    if error is not None:
        return APPLY_RETRY_SECONDS
    return None if decision.status.state == "ACTIVE" else PROGRESS_RECHECK_SECONDS


async def _apply(ctx: Context, owner: Mapping[str, Any], resolved: ResolvedCatalog, deleting: bool) -> None:
    """Every write of the round: the finalizer, the database's generated credentials (once), the children.
    While deleting, the children stay as they are: they serve the clusters still using the catalog, and go
    with it (owner references) once the finalizer is released."""
    if deleting:
        return
    if FINALIZER not in (owner["metadata"].get("finalizers") or []):
        await _set_finalizer(ctx, owner, present=True)
    key = _key(resolved.namespace, resolved.name)
    full = time.monotonic() - ctx.last_full_apply.get(key, ctx.started) >= ctx.options.resync_seconds
    if resolved.database.in_cluster:
        await _ensure_database_secret(ctx, resolved, full)
    live = [
        o
        for kind in APPLIED_KINDS
        for o in ctx.store.labelled(kind, resolved.namespace, LABEL_CATALOG, resolved.name)
        if any(r.get("uid") == resolved.uid for r in o["metadata"].get("ownerReferences") or [])
    ]
    result = await apply_children(
        ctx.kube, owner, build_catalog_children(resolved), live, ctx.fingerprints[key], full
    )
    if full:
        ctx.last_full_apply[key] = time.monotonic()
    if result.writes:
        log.info("%s/%s: applied %d, deleted %d children", *key, len(result.applied), len(result.deleted))


async def _ensure_database_secret(ctx: Context, resolved: ResolvedCatalog, full: bool) -> None:
    """The in-cluster database's credentials: a random password, made once. An existing Secret is kept as it
    is (the database was initialised with its password), also one left by an earlier catalog of this name.
    Created again (a 409 when it exists) at each full resync: one deleted by hand comes back."""
    key = (resolved.namespace, resolved.database.credentials_secret)
    if key in ctx.catalog_secrets and not full:
        return
    manifest = build_database_secret(resolved, secrets.token_urlsafe(24))
    try:
        await create(ctx.kube, manifest)
    except ApiError as err:
        if not err.conflict:
            raise
    ctx.catalog_secrets.add(key)


async def _set_finalizer(ctx: Context, owner: Mapping[str, Any], present: bool) -> None:
    meta = owner["metadata"]
    finalizers = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
    if present:
        finalizers.append(FINALIZER)
    # With the resourceVersion read: another controller's finalizer added meanwhile is never dropped (409).
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
    try:
        await merge_patch(ctx.kube, owner, patch)
    except ApiError as err:
        if not (err.not_found or err.conflict):  # gone, or changed: the next event brings it back
            raise


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    return "spec." + ".".join(str(p) for p in first["loc"]) + f": {first['msg']}"


async def _write_invalid(
    ctx: Context,
    owner: Mapping[str, Any],
    previous: DataCatalogStatus,
    message: str,
    generation: int,
    now: datetime,
) -> None:
    """A spec the operator can't build: Ready=False (InvalidSpec) naming the field, and a Warning Event once.
    What runs stays as it is."""
    ready = condition(previous.conditions, "Ready", False, "InvalidSpec", message, generation, now)
    stalled = condition(previous.conditions, "Stalled", True, "InvalidSpec", message, generation, now)
    others = [c for c in previous.conditions if c.type not in ("Ready", "Stalled", "Reconciling")]
    update = {"conditions": [ready, stalled, *others], "observed_generation": generation}
    status = previous.model_copy(update={**update, "state": previous.state or CatalogState.CREATING})
    if patch := status_patch(previous.to_dict(), status.to_dict()):
        await patch_status(ctx.kube, owner, patch)
        await ctx.events.record(owner, "Warning", "InvalidSpec", message)
