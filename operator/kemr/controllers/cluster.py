"""Reconcile one EMRCluster, as the stages run (`reconcile_cluster`):

read (the watch cache) → validate (`parse_spec`: schema, validate_cluster) → resolve (memoized while no input
changes, `resolved_cluster`) → observe (`observe`: children, steps, and the Spark master's and NameNode's
reports when needed) → decide (kemr.status.plan `plan_cluster`, pure) → build (kemr.builders, once per
resolution: kemr.apply.desired) → apply (`apply_plan`: every write, refusals kept for the status) → status
(`with_apply_outcome`, `write_status`: only what changed); then the Spark History Server, when
requested (kemr.controllers.history).

Level-triggered: a reconcile with nothing to change sends no request.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kemr.api import ClusterState, EMRClusterSpec, EMRClusterStatus, StepState
from kemr.api.constants import (
    API_VERSION,
    CATALOG_KIND,
    CLUSTER_KIND,
    LABEL_CLUSTER,
    LABEL_GROUP,
    LABEL_MANAGED_BY,
    LABEL_ROLE,
    MANAGED_BY,
    ROLE_CORE,
    ROLE_DRIVER,
    ROLE_NOTEBOOK,
    STEP_KIND,
)
from kemr.api.notebook import EMRNotebookStatus
from kemr.apply.ssa import (
    ApplyResult,
    Prepared,
    apply_children,
    apply_prepared,
    delete,
    merge_patch,
    owner_reference,
    patch_status,
    scale,
    server_side_apply,
    status_patch,
)
from kemr.controllers import probes, scaling
from kemr.controllers.history import is_history, reconcile_history
from kemr.controllers.kernels import kernels_now
from kemr.metrics import CLUSTERS
from kemr.observe import ObservedSteps, catalog_problem, observe_cluster
from kemr.resolve import ResolvedCluster, ResolveError
from kemr.runtime.client import ApiError
from kemr.status.cluster import ChildrenMode, ClusterDecision, idle_timeout_due
from kemr.status.decommission import departing_core_groups
from kemr.status.notebook import notebook_activity, with_fresh_kernels
from kemr.status.plan import (
    ClusterPlan,
    ClusterRound,
    core_groups_shrink,
    decommissions,
    plan_cluster,
    with_apply_outcome,
)
from kemr.status.scaling import DELETION_COST_ANNOTATION
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
    """The cluster's spec resolved with the operator's configuration, once while neither changes (memoized in
    ctx.resolutions; the cluster's reconciles and its steps' share it). Raises ResolveError as
    resolve_cluster does."""
    meta = body["metadata"]
    generation = int(meta.get("generation", 1))
    return ctx.resolutions.resolve(meta["name"], meta["namespace"], meta["uid"], generation, spec, ctx.config)


async def reconcile_cluster(ctx: Context, namespace: str, name: str) -> float | None:
    """One reconcile of an EMRCluster, stage by stage: read → validate → resolve → observe → decide → build →
    apply → status. Returns the seconds until it should run again (None: on the next event or resync)."""
    # read
    body = ctx.store.get(CLUSTER_KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        _forget(ctx, namespace, name)
        return None  # deleted: owner references let the garbage collector remove the children
    meta = body["metadata"]
    generation = int(meta.get("generation", 1))
    now = datetime.now(UTC).replace(microsecond=0)
    previous = EMRClusterStatus.model_validate(body.get("status") or {})
    # validate
    spec, issues = parse_spec(body)
    if spec is None:
        await _write_stalled(ctx, body, previous, issues, generation, now)
        return None
    # resolve (once per generation)
    resolved = None
    if not issues:
        try:
            resolved = resolved_cluster(ctx, body, spec)
        except ResolveError as err:
            issues = [ValidationIssue(err.field, err.message)]
    # observe
    created = parse_time(meta.get("creationTimestamp")) or now
    round_ = await observe(ctx, body, spec, resolved, previous, created, now)
    # decide (pure)
    plan = plan_cluster(
        spec, issues, resolved, previous, round_, generation, created, now, ctx.config, ctx.resolutions
    )
    # build (owned and hashed, once per resolution: ctx.desired)
    owner = {"apiVersion": API_VERSION, "kind": CLUSTER_KIND, "metadata": meta}
    desired = (
        ctx.desired.children(plan.resolved, owner)
        if plan.resolved and plan.decision.mode == ChildrenMode.BUILD
        else ()
    )
    # apply
    error = None
    try:
        await apply_plan(ctx, owner, spec, plan, desired, round_)
    except ApiError as err:  # 403, 422, a webhook's refusal: into status and an Event, retried with backoff
        error = err
        log.warning("%s/%s: %s", namespace, name, err)
    # status
    decision = with_apply_outcome(
        plan.decision, previous, (error.reason, error.message) if error else None, generation, now
    )
    await write_status(ctx, owner, previous, decision)
    _export_metrics(ctx, namespace, name, spec, plan)
    # the Spark History Server, on request, in any state (kemr.controllers.history)
    history = await reconcile_history(
        ctx, {"apiVersion": API_VERSION, "kind": CLUSTER_KIND, **body}, resolved, now
    )
    waits = [decision.requeue_after, plan.scaling.recheck_after if plan.scaling else None, history]
    if error:
        waits.append(APPLY_RETRY_SECONDS)
    if any(core.decommissioning for core in plan.core.values()):
        waits.append(probes.DECOMMISSION_RECHECK_SECONDS)
    if decision.status.state in TRANSITIONAL_STATES:
        waits.append(PROGRESS_RECHECK_SECONDS)
    return min((w for w in waits if w is not None), default=None)


def _forget(ctx: Context, namespace: str, name: str) -> None:
    """A deleted cluster's in-memory state."""
    probes.forget(namespace, name)
    ctx.fingerprints.pop((namespace, name), None)
    ctx.last_full_apply.pop((namespace, name), None)
    ctx.resolutions.forget(namespace, name)
    ctx.desired.forget(namespace, name)


async def observe(
    ctx: Context,
    body: Mapping[str, Any],
    spec: EMRClusterSpec,
    resolved: ResolvedCluster | None,
    previous: EMRClusterStatus,
    created: datetime,
    now: datetime,
) -> ClusterRound:
    """Everything the round decides from: the cluster's children and steps in the watch cache, and — only
    when the decision needs them — the Spark master's report, the NameNode's DataNode states, and its READY
    notebooks' kernels read afresh in the round that would end it for its idle timeout."""
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    live = [
        o
        for kind in APPLIED_KINDS
        for o in ctx.store.children(kind, namespace, name)
        if owned_by(o, uid) and not is_history(o)  # the history server has a life of its own
    ]
    workloads = [o for o in live if o["kind"] in ("StatefulSet", "Deployment")]
    # Drivers are their steps', notebooks' pods their EMRNotebooks' (they carry the cluster's label for its
    # NetworkPolicy): neither is a node of the cluster, nor holds up its teardown.
    pods = [
        p
        for p in ctx.store.children("Pod", namespace, name)
        if (p["metadata"].get("labels") or {}).get(LABEL_ROLE) not in (ROLE_DRIVER, ROLE_NOTEBOOK)
        and not is_history(p)
    ]
    claims = ctx.store.children("PersistentVolumeClaim", namespace, name)
    steps = ctx.store.steps_of(namespace, name)
    observed = observe_cluster(workloads, pods, claims, observe_steps(steps))
    notebooks = ctx.store.notebooks_of(namespace, name)
    if notebooks:  # EMR: a cluster with an attached notebook whose kernel is active is not idle
        busy, last = notebook_activity(
            EMRNotebookStatus.model_validate(n.get("status") or {}) for n in notebooks
        )
        observed = dataclasses.replace(observed, notebook_busy=busy, notebook_last_activity=last)
        if idle_timeout_due(spec, previous, observed, created, now):
            # The notebooks' statuses are up to KERNELS_POLL_SECONDS old: a cell started since must count.
            reports = [r for n in notebooks if (r := await kernels_now(ctx, n)) is not None]
            busy, last = with_fresh_kernels(busy, last, reports)
            log.info(
                "%s/%s: idle timeout due; its notebooks' kernels read now: %s → busy=%s, last activity %s",
                namespace,
                name,
                [r.error or r.kernels for r in reports],
                busy,
                last,
            )
            observed = dataclasses.replace(observed, notebook_busy=busy, notebook_last_activity=last)
    if spec.catalog is not None:  # the DataCatalog it waits for
        catalog = ctx.store.get(CATALOG_KIND, namespace, spec.catalog.name)
        if problem := catalog_problem(spec.catalog.name, namespace, catalog):
            observed = dataclasses.replace(observed, dependency_problems=(problem,))
    round_ = ClusterRound(live, pods, claims, steps, observed)
    if resolved is None:
        return round_
    departing = []
    if decommissions(resolved):  # core groups removed from the spec leave as a scale-in to 0 does
        departing = departing_core_groups([g.name for g in spec.core_groups], workloads)
        round_ = dataclasses.replace(round_, departing=departing)
    namenode = master = None
    namenode_ui = resolved.endpoints.urls.get("namenodeUI")  # seam: the decommission asks HDFS's NameNode
    if namenode_ui and core_groups_shrink(spec, resolved, round_):
        namenode = await probes.namenode_states(namespace, name, namenode_ui, ctx.kube)
    if spec.managed_scaling.enabled and spec.task_groups:
        master = await probes.master_report(namespace, name, resolved.endpoints.web_ui)
    return dataclasses.replace(round_, namenode=namenode, master=master)


async def apply_plan(
    ctx: Context,
    owner: Mapping[str, Any],
    spec: EMRClusterSpec,
    plan: ClusterPlan,
    desired: Sequence[Prepared],
    round_: ClusterRound,
) -> ApplyResult | None:
    """Every write of the round: pod-deletion costs, removed core groups scaled in, the children applied (or
    torn down) and pruned, inline steps, decommissioned volumes deleted. Raises ApiError naming the object the
    apiserver refused."""
    namespace, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
    for pod_name, cost in plan.deletion_costs.items():
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": namespace, "name": pod_name}}
        try:
            await merge_patch(ctx.kube, pod, {"metadata": {"annotations": {DELETION_COST_ANNOTATION: cost}}})
        except ApiError as err:
            if not err.not_found:  # a pod gone meanwhile needs no cost
                raise
    result, refused = None, None
    if plan.decision.mode == ChildrenMode.BUILD and plan.resolved is not None:
        await _shrink_departing(ctx, plan, round_.workloads)
        held = plan.held_groups
        kept = [o for o in round_.live if not _of_group(o, held)]  # a departing group's children stay
        key = (namespace, name)
        full = time.monotonic() - ctx.last_full_apply.get(key, ctx.started) >= ctx.options.resync_seconds
        try:
            result = await apply_prepared(ctx.kube, desired, kept, ctx.fingerprints[key], full)
        except ApiError as err:  # the other children were written: the steps and volumes below still are
            refused = err
        if full and refused is None:
            ctx.last_full_apply[key] = time.monotonic()
        await ensure_inline_steps(ctx, owner, spec)
    elif plan.decision.mode == ChildrenMode.TEARDOWN:
        result = await apply_children(ctx.kube, owner, [], round_.live)
        for claim in round_.claims:  # volumes go with the cluster (the CR itself stays as the record)
            if not claim["metadata"].get("deletionTimestamp"):
                await delete(ctx.kube, claim)
    for core in plan.core.values():  # volumes of decommissioned core pods, once the pods are gone
        for claim in round_.claims:
            if claim["metadata"]["name"] in core.claims_to_delete:
                log.info("%s/%s: deleting %s", namespace, name, claim["metadata"]["name"])
                await delete(ctx.kube, claim)
    if refused is not None:
        raise refused
    if result and result.writes:
        log.info(
            "%s/%s: applied %d, deleted %d children",
            namespace,
            name,
            len(result.applied),
            len(result.deleted),
        )
    return result


async def write_status(
    ctx: Context, owner: Mapping[str, Any], previous: EMRClusterStatus, decision: ClusterDecision
) -> None:
    """The status patch (only what changed) and the round's Events."""
    if patch := status_patch(previous.to_dict(), decision.status.to_dict()):
        updated = await patch_status(ctx.kube, owner, patch)
        ctx.store.upsert(CLUSTER_KIND, {"apiVersion": API_VERSION, "kind": CLUSTER_KIND, **updated})
    for event in decision.events:
        await ctx.events.record(owner, event.type, event.reason, event.message)


def _export_metrics(ctx: Context, namespace: str, name: str, spec: EMRClusterSpec, plan: ClusterPlan) -> None:
    if plan.scaling is not None and plan.demand is not None:
        scaling.record(namespace, name, plan.scaling, plan.demand)
    elif plan.decision.mode == ChildrenMode.TEARDOWN:
        probes.forget(namespace, name)
        scaling.forget_metrics(namespace, name, [g.name for g in spec.task_groups])
    _count_states(ctx, namespace)


def _of_group(obj: Mapping[str, Any], core_groups: set[str]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return labels.get(LABEL_ROLE) == ROLE_CORE and labels.get(LABEL_GROUP) in core_groups


async def _shrink_departing(ctx: Context, plan: ClusterPlan, workloads: list[dict[str, Any]]) -> None:
    """A removed core group's StatefulSet goes to 0 once its DataNodes are decommissioned (it is no longer
    built from the spec: only its replicas change)."""
    for group in plan.departing:
        wanted = plan.core[group.name].statefulset_replicas
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
        await ctx.events.record(owner, "Warning", "InvalidSpec", message)


def _count_states(ctx: Context, namespace: str) -> None:
    """The namespace's clusters per state, into the CLUSTERS gauge. Counted again only when some cluster of
    the namespace was stored or removed since (ctx.store's revision): counting is O(clusters in the
    namespace), and a no-op reconcile of each cluster made it O(n²) a resync."""
    revision = ctx.store.revision(CLUSTER_KIND, namespace)
    if ctx.counted_revisions.get(namespace) == revision:
        return
    ctx.counted_revisions[namespace] = revision
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
