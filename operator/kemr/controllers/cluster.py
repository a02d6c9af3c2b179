"""Reconcile one EMRCluster: spec → validate → resolve → build → apply → observe → status.

Level-triggered: it reads the object and its children from the watch cache, makes the children what the spec
says (or removes them when the cluster terminates), and writes status only when it changed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kemr.api import ClusterState, EMRClusterSpec, EMRClusterStatus, Endpoints, StepState
from kemr.api.constants import (
    API_VERSION,
    CLUSTER_KIND,
    LABEL_CLUSTER,
    LABEL_GROUP,
    LABEL_MANAGED_BY,
    LABEL_ROLE,
    MANAGED_BY,
    ROLE_CORE,
    ROLE_DRIVER,
    STEP_KIND,
)
from kemr.apply.events import post_event
from kemr.apply.ssa import (
    ApplyResult,
    apply_children,
    delete,
    owner_reference,
    patch_status,
    scale,
    server_side_apply,
    status_patch,
)
from kemr.builders import build_children
from kemr.controllers import scaling
from kemr.metrics import CLUSTERS
from kemr.observe import ObservedCluster, ObservedSteps, observe_cluster
from kemr.resolve import ResolvedCluster, ResolveError, resolve_cluster
from kemr.runtime.client import ApiError
from kemr.status.cluster import ChildrenMode, Event, decide
from kemr.status.conditions import SYNCED, find, synced
from kemr.status.decommission import (
    CoreScaleIn,
    DepartingGroup,
    departing_core_groups,
    departing_status,
    departure_done,
    scale_in_events,
    with_core_scale_in,
)
from kemr.status.scaling import ScalingPlan, with_scaling
from kemr.status.step import STEP_INDEX_ANNOTATION
from kemr.validate import ValidationIssue, validate_cluster

if TYPE_CHECKING:
    from kemr.controllers.run import Context

log = logging.getLogger(__name__)

# Child kinds the cluster reconcile applies, and prunes when no longer wanted.
APPLIED_KINDS = (
    "ConfigMap",
    "Service",
    "ServiceAccount",
    "StatefulSet",
    "Deployment",
    "PodDisruptionBudget",
    "NetworkPolicy",
)
TRANSITIONAL_STATES = frozenset({ClusterState.STARTING, ClusterState.BOOTSTRAPPING, ClusterState.TERMINATING})
PROGRESS_RECHECK_SECONDS = 30.0  # while starting or terminating, in case a child event is missed
APPLY_RETRY_SECONDS = 10.0  # after the apiserver refused a write (the Synced condition says which)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    return any(
        ref.get("uid") == uid and ref.get("controller")
        for ref in obj["metadata"].get("ownerReferences") or []
    )


def observe_steps(steps: list[dict[str, Any]]) -> ObservedSteps:
    by_state: dict[StepState, int] = {}
    last_end: datetime | None = None
    terminate_failure = None
    for step in steps:
        status = step.get("status") or {}
        state = StepState(status.get("state") or StepState.PENDING)
        by_state[state] = by_state.get(state, 0) + 1
        ended = parse_time((status.get("timeline") or {}).get("ended"))
        last_end = max(filter(None, (last_end, ended)), default=None)
        if (
            state == StepState.FAILED
            and (step.get("spec") or {}).get("actionOnFailure") == "TERMINATE_CLUSTER"
        ):
            terminate_failure = step["metadata"]["name"]
    return ObservedSteps(
        by_state=by_state, last_end_time=last_end, terminate_cluster_failure=terminate_failure
    )


def parse_spec(body: Mapping[str, Any]) -> tuple[EMRClusterSpec | None, list[ValidationIssue]]:
    try:
        spec = EMRClusterSpec.model_validate(body.get("spec") or {})
    except ValidationError as err:  # the CRD schema should have refused it; say which field anyway
        first = err.errors()[0]
        path = "spec." + ".".join(str(p) for p in first["loc"])
        return None, [ValidationIssue(path, first["msg"])]
    return spec, list(validate_cluster(spec))


def resolved_cluster(ctx: Context, body: Mapping[str, Any], spec: EMRClusterSpec) -> ResolvedCluster:
    """The cluster's spec resolved with the operator's configuration, once per generation (cached by uid; the
    cluster's reconciles and its steps' share it). Raises ResolveError as resolve_cluster does."""
    meta = body["metadata"]
    uid, generation = meta["uid"], int(meta.get("generation", 1))
    cached = ctx.resolutions.get(uid)
    if cached is not None and cached[0] == generation:
        return cached[1]
    resolved = resolve_cluster(meta["name"], meta["namespace"], uid, spec, ctx.config)
    ctx.resolutions[uid] = (generation, resolved)
    return resolved


async def reconcile_cluster(ctx: Context, namespace: str, name: str) -> float | None:
    body = ctx.store.get(CLUSTER_KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        scaling.forget(namespace, name)
        ctx.fingerprints.pop((namespace, name), None)
        if body is not None:
            ctx.resolutions.pop(body["metadata"]["uid"], None)
        ctx.last_full_apply.pop((namespace, name), None)
        return None  # deleted: owner references let the garbage collector remove the children
    meta = body["metadata"]
    uid, generation = meta["uid"], int(meta.get("generation", 1))
    owner = {"apiVersion": API_VERSION, "kind": CLUSTER_KIND, "metadata": meta}
    now = datetime.now(UTC).replace(microsecond=0)
    created = parse_time(meta.get("creationTimestamp")) or now

    spec, issues = parse_spec(body)
    previous = EMRClusterStatus.model_validate(body.get("status") or {})
    if spec is None:
        await _write_stalled(ctx, body, previous, issues, generation, now)
        return None

    resolved = None
    if not issues:
        try:
            resolved = resolved_cluster(ctx, body, spec)
        except ResolveError as err:
            issues = [ValidationIssue(err.field, err.message)]
    endpoints = (
        Endpoints(
            master=resolved.endpoints.master, web_ui=resolved.endpoints.web_ui, hdfs=resolved.endpoints.hdfs
        )
        if resolved
        else previous.endpoints or Endpoints()
    )

    live = [
        o for kind in APPLIED_KINDS for o in ctx.store.children(kind, namespace, name) if owned_by(o, uid)
    ]
    workloads = [o for o in live if o["kind"] in ("StatefulSet", "Deployment")]
    pods = ctx.store.children("Pod", namespace, name)
    daemon_pods = [p for p in pods if (p["metadata"].get("labels") or {}).get(LABEL_ROLE) != ROLE_DRIVER]
    claims = ctx.store.children("PersistentVolumeClaim", namespace, name)
    observed = observe_cluster(
        workloads, daemon_pods, claims, observe_steps(ctx.store.steps_of(namespace, name))
    )

    decision = decide(
        spec,
        generation,
        previous,
        observed,
        issues,
        endpoints,
        created,
        now,
        ctx.config.cluster_provisioning_timeout_seconds,
    )
    scaling_plan = None
    core_plans: dict[str, CoreScaleIn] = {}
    departing: list[DepartingGroup] = []
    if resolved is not None and decision.mode == ChildrenMode.BUILD:
        if resolved.hdfs_enabled:  # core groups removed from the spec leave as a scale-in to 0 does
            departing = departing_core_groups([g.name for g in spec.core_groups], workloads)
        core_plans = await scaling.plan_core_scale_in(
            spec, resolved, previous, observed, daemon_pods, claims, ctx.kube, departing
        )
        resolved, scaling_plan = await _scale(ctx, spec, resolved, previous, observed, core_plans, now)
        groups = with_scaling(
            decision.status.groups,
            scaling_plan,
            {g.name: g.ready for g in observed.fallbacks},
        )
        groups = with_core_scale_in(groups, core_plans)
        groups += [
            departing_status(g, core_plans[g.name], seen.ready if (seen := observed.group(g.name)) else 0)
            for g in departing
            if not departure_done(g, core_plans[g.name])
        ]
        events = [Event(e.type, e.reason, e.message) for e in scaling_plan.events]
        events += [Event(*e) for e in scale_in_events(previous.groups, core_plans)]
        decision = dataclasses.replace(
            decision,
            status=decision.status.model_copy(update={"groups": groups}),
            events=decision.events + tuple(events),
        )
    elif decision.mode == ChildrenMode.TEARDOWN:
        scaling.forget(namespace, name)
        scaling.forget_metrics(namespace, name, [g.name for g in spec.task_groups])

    apply_error: ApiError | None = None
    try:
        result = await _apply(
            ctx, owner, spec, resolved, decision.mode, live, workloads, claims, departing, core_plans
        )
    except ApiError as err:  # 403, 422, a webhook's refusal: into status and an Event, retried with backoff
        apply_error, result = err, None
        log.warning("%s/%s: %s", namespace, name, err)
    if result and result.writes:
        log.info(
            "%s/%s: applied %d, deleted %d children",
            namespace,
            name,
            len(result.applied),
            len(result.deleted),
        )
    sync = synced(
        previous.conditions,
        (apply_error.reason, apply_error.message) if apply_error else None,
        generation,
        now,
    )
    conditions = [c for c in decision.status.conditions if c.type != SYNCED] + [sync]
    decision = dataclasses.replace(
        decision, status=decision.status.model_copy(update={"conditions": conditions})
    )
    old_sync = find(previous.conditions, SYNCED)
    if apply_error and (old_sync is None or old_sync.message != sync.message):
        decision = dataclasses.replace(
            decision, events=(*decision.events, Event("Warning", "ApplyFailed", apply_error.message))
        )

    if patch := status_patch(previous.to_dict(), decision.status.to_dict()):
        updated = await patch_status(ctx.kube, owner, patch)
        ctx.store.upsert(CLUSTER_KIND, {"apiVersion": API_VERSION, "kind": CLUSTER_KIND, **updated})
    for event in decision.events:
        await post_event(ctx.kube, owner, event.type, event.reason, event.message)
    _count_states(ctx, namespace)

    waits = [decision.requeue_after, scaling_plan.recheck_after if scaling_plan else None]
    if apply_error:
        waits.append(APPLY_RETRY_SECONDS)
    if any(plan.decommissioning for plan in core_plans.values()):
        waits.append(scaling.DECOMMISSION_RECHECK_SECONDS)
    if decision.status.state in TRANSITIONAL_STATES:
        waits.append(PROGRESS_RECHECK_SECONDS)
    return min((w for w in waits if w is not None), default=None)


async def _apply(
    ctx: Context,
    owner: Mapping[str, Any],
    spec: EMRClusterSpec,
    resolved: ResolvedCluster | None,
    mode: ChildrenMode,
    live: list[dict[str, Any]],
    workloads: list[dict[str, Any]],
    claims: list[dict[str, Any]],
    departing: list[DepartingGroup],
    core_plans: Mapping[str, CoreScaleIn],
) -> ApplyResult | None:
    """Every write of a cluster reconcile: children built (or torn down), inline steps, removed core groups
    scaled in, decommissioned volumes deleted. Raises ApiError naming the object the apiserver refused."""
    namespace, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
    result = None
    if mode == ChildrenMode.BUILD and resolved is not None:
        held = {g.name for g in departing if not departure_done(g, core_plans[g.name])}
        await _shrink_departing(ctx, departing, core_plans, workloads)
        kept = [
            o for o in live if not _of_group(o, held)
        ]  # a departing group's children stay until it is out
        key = (namespace, name)
        full = time.monotonic() - ctx.last_full_apply.get(key, ctx.started) >= ctx.options.resync_seconds
        fingerprints = ctx.fingerprints[key]
        result = await apply_children(ctx.kube, owner, build_children(resolved), kept, fingerprints, full)
        if full:
            ctx.last_full_apply[key] = time.monotonic()
        await ensure_inline_steps(ctx, owner, spec)
    elif mode == ChildrenMode.TEARDOWN:
        result = await apply_children(ctx.kube, owner, [], live)
        for claim in claims:  # volumes go with the cluster (the CR itself stays as the record)
            if not claim["metadata"].get("deletionTimestamp"):
                await delete(ctx.kube, claim)
    for plan in core_plans.values():  # volumes of decommissioned core pods, once the pods are gone
        for claim in claims:
            if claim["metadata"]["name"] in plan.claims_to_delete:
                log.info("%s/%s: deleting %s", namespace, name, claim["metadata"]["name"])
                await delete(ctx.kube, claim)
    return result


def _of_group(obj: Mapping[str, Any], core_groups: set[str]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return labels.get(LABEL_ROLE) == ROLE_CORE and labels.get(LABEL_GROUP) in core_groups


async def _shrink_departing(
    ctx: Context,
    departing: list[DepartingGroup],
    plans: Mapping[str, CoreScaleIn],
    workloads: list[dict[str, Any]],
) -> None:
    """A removed core group's StatefulSet goes to 0 once its DataNodes are decommissioned (it is no longer
    built from the spec: only its replicas change)."""
    for group in departing:
        wanted = plans[group.name].statefulset_replicas
        if wanted != group.replicas:
            sts = next(
                w
                for w in workloads
                if w["kind"] == "StatefulSet" and w["metadata"]["name"] == group.statefulset
            )
            log.info(
                "%s: removed core group %s: %s → %d",
                sts["metadata"]["namespace"],
                group.name,
                group.statefulset,
                wanted,
            )
            await scale(ctx.kube, sts, wanted)


async def _scale(
    ctx: Context,
    spec: EMRClusterSpec,
    resolved: ResolvedCluster,
    previous: EMRClusterStatus,
    observed: ObservedCluster,
    core_plans: Mapping[str, CoreScaleIn],
    now: datetime,
) -> tuple[ResolvedCluster, ScalingPlan]:
    """Task group sizes (managed scaling) and on-demand stand-ins (spot fallback), resolved into children."""
    namespace, name = resolved.namespace, resolved.name
    master = None
    if spec.managed_scaling.enabled and spec.task_groups:
        master = await scaling.master_report(namespace, name, resolved.endpoints.web_ui)
    steps = ctx.store.steps_of(namespace, name)
    result, demand = scaling.plan(spec, resolved, previous, observed, steps, master, now)
    if master is not None:
        await scaling.apply_deletion_costs(ctx.kube, ctx.store.children("Pod", namespace, name), master)
    scaling.record(namespace, name, result, demand)
    rescaled = resolve_cluster(
        name,
        namespace,
        resolved.uid,
        spec,
        ctx.config,
        task_replicas=result.replicas,
        on_demand_fallback=result.fallback,
        core_replicas={group: plan.statefulset_replicas for group, plan in core_plans.items()},
        hdfs_exclude=[ip for plan in core_plans.values() for ip in plan.excluded_ips],
    )
    return rescaled, result


async def ensure_inline_steps(ctx: Context, owner: Mapping[str, Any], spec: EMRClusterSpec) -> None:
    """`spec.steps` become EMRSteps named <cluster>-<step>, owned by the cluster, created once each, in order
    (the step-index annotation keeps their order when they share a creation second). Never pruned: a step's
    record outlives the cluster's termination."""
    namespace, cluster = owner["metadata"]["namespace"], owner["metadata"]["name"]
    for index, step in enumerate(spec.steps):
        name = f"{cluster}-{step.name}"
        if ctx.store.get(STEP_KIND, namespace, name):
            continue
        body = step.to_dict()
        body.pop("name")
        manifest = {
            "apiVersion": API_VERSION,
            "kind": STEP_KIND,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {LABEL_CLUSTER: cluster, LABEL_MANAGED_BY: MANAGED_BY},
                "annotations": {STEP_INDEX_ANNOTATION: str(index)},
                "ownerReferences": [owner_reference(owner)],
            },
            "spec": {"clusterRef": {"name": cluster}, **body},
        }
        created = await server_side_apply(ctx.kube, manifest)
        ctx.store.upsert(STEP_KIND, {"apiVersion": API_VERSION, "kind": STEP_KIND, **created})


async def _write_stalled(
    ctx: Context,
    body: Mapping[str, Any],
    previous: EMRClusterStatus,
    issues: list[ValidationIssue],
    generation: int,
    now: datetime,
) -> None:
    from kemr.status.conditions import condition

    message = "; ".join(str(i) for i in issues)
    # Not under way either: kstatus reads Reconciling before Stalled (a stale Reconciling=True hides it).
    replaced = [
        condition(previous.conditions, "Stalled", True, "InvalidSpec", message, generation, now),
        condition(previous.conditions, "Progressing", False, "Stalled", message, generation, now),
        condition(previous.conditions, "Reconciling", False, "Stalled", message, generation, now),
    ]
    replaced_types = {c.type for c in replaced}
    others = [c for c in previous.conditions if c.type not in replaced_types]
    update = {"conditions": [*others, *replaced], "observed_generation": generation}
    status = previous.model_copy(update=update)
    owner = {"apiVersion": API_VERSION, "kind": CLUSTER_KIND, "metadata": body["metadata"]}
    if status.to_dict() != previous.to_dict():
        await patch_status(ctx.kube, owner, status.to_dict())
        await post_event(ctx.kube, owner, "Warning", "InvalidSpec", message)


def _count_states(ctx: Context, namespace: str) -> None:
    counts: dict[str, int] = {}
    for cluster in ctx.store.all(CLUSTER_KIND, namespace):
        state = (cluster.get("status") or {}).get("state") or "STARTING"
        counts[state] = counts.get(state, 0) + 1
    for state in (
        "STARTING",
        "BOOTSTRAPPING",
        "RUNNING",
        "WAITING",
        "TERMINATING",
        "TERMINATED",
        "TERMINATED_WITH_ERRORS",
    ):
        CLUSTERS.labels(namespace, state).set(counts.get(state, 0))
