"""Reconcile one EMRStep: decide (pure, kemr.status.step), record the decision in status, then act on it.

The attempt is written to status *before* its driver pod is created, under optimistic concurrency, and the
pod's name is deterministic per attempt: an operator restarted at any point creates at most one driver per
attempt, and a finished driver pod is kept so its result is never lost.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kemr.api import ClusterState, EMRClusterSpec, EMRStepSpec, EMRStepStatus, StepState
from kemr.api.constants import API_VERSION, CLUSTER_KIND, DRIVER_FINALIZER, LABEL_STEP, STEP_KIND
from kemr.apply.ssa import create, delete, merge_patch, patch_status, status_patch
from kemr.builders.driver import build_driver_pod
from kemr.controllers.cluster import parse_time, resolved_cluster
from kemr.faults import crash_point
from kemr.metrics import STEP_DURATION_SECONDS, STEP_SUBMIT_LATENCY_SECONDS, STEPS
from kemr.resolve import ResolvedCluster, ResolveError
from kemr.runtime.client import ApiError
from kemr.runtime.kinds import kind_named
from kemr.status.step import (
    TERMINATING_CLUSTER,
    Action,
    ClusterView,
    PodRefusal,
    StepDecision,
    cancelled_by,
    classify_refusal,
    decide_step,
    driver_view,
    refused,
    startable,
)
from kemr.validate import ValidationIssue, validate_step

if TYPE_CHECKING:
    from kemr.controllers.run import Context

log = logging.getLogger(__name__)


def view_cluster(
    ctx: Context, namespace: str, name: str
) -> tuple[ClusterView, EMRClusterSpec | None, ResolvedCluster | None]:
    body = ctx.store.get(CLUSTER_KIND, namespace, name)
    if body is None:
        return ClusterView(exists=False), None, None
    state = (body.get("status") or {}).get("state")
    try:
        spec = EMRClusterSpec.model_validate(body.get("spec") or {})
        resolved = resolved_cluster(ctx, body, spec)
    except (ValidationError, ResolveError):
        return ClusterView(exists=True, state=ClusterState(state) if state else None), None, None
    view = ClusterView(
        exists=True,
        terminating_since=terminating_since(body),
        state=ClusterState(state) if state else None,
        step_concurrency=spec.step_concurrency,
        log_uri=resolved.log_uri,
    )
    return view, spec, resolved


def terminating_since(cluster: Mapping[str, Any]) -> datetime | None:
    """When a terminating or terminated cluster began terminating (`status.timeline.terminating`; for a record
    written before that field existed, when its Ready condition last changed)."""
    status = cluster.get("status") or {}
    if status.get("state") not in {s.value for s in TERMINATING_CLUSTER}:
        return None
    since = parse_time((status.get("timeline") or {}).get("terminating"))
    if since is not None:
        return since
    ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return parse_time(ready.get("lastTransitionTime"))


def step_issues(spec: EMRStepSpec, cluster: EMRClusterSpec | None) -> list[ValidationIssue]:
    applications = [a.value for a in cluster.applications] if cluster else None
    issues = list(validate_step(spec, applications=applications))
    if cluster and cluster.step_concurrency > 1 and spec.action_on_failure.value != "CONTINUE":
        issues.append(
            ValidationIssue(
                "spec.actionOnFailure",
                f"must be CONTINUE: cluster {spec.cluster_ref.name} runs {cluster.step_concurrency} steps at "
                "once (stepConcurrency > 1), where CANCEL_AND_WAIT and TERMINATE_CLUSTER are not allowed",
            )
        )
    return issues


async def reconcile_step(ctx: Context, namespace: str, name: str) -> float | None:
    body = ctx.store.get(STEP_KIND, namespace, name)
    if body is None and await _exists(ctx, STEP_KIND, namespace, name):
        return CACHE_LAG_RECHECK_SECONDS  # a driver pod's event came before its step's: wait for the cache
    if body is None or body["metadata"].get("deletionTimestamp"):
        await release_drivers(ctx, namespace, name, None, None)  # the step is gone: its pods may go too
        return None
    try:
        spec = EMRStepSpec.model_validate(body.get("spec") or {})
    except ValidationError as err:  # the CRD schema should have refused it
        log.warning("EMRStep %s/%s does not parse: %s", namespace, name, err)
        return None
    if ctx.store.get(CLUSTER_KIND, namespace, spec.cluster_ref.name) is None and await _exists(
        ctx, CLUSTER_KIND, namespace, spec.cluster_ref.name
    ):
        return CACHE_LAG_RECHECK_SECONDS  # not in the watch cache yet: never judge a step on a cache miss
    # One decision at a time per cluster: the step queue (stepConcurrency, order) is decided from the store.
    # The decision is written after the lock is released, so the cluster's steps are written (and their
    # driver pods created) side by side. That never over-starts: steps start oldest first, so a step whose
    # start is still on its way is PENDING in the store among the oldest, and fills one of the slots the
    # other decisions count; a write that frees a slot is seen once it lands (until then it looks taken).
    async with ctx.locks[(namespace, spec.cluster_ref.name)]:
        body = ctx.store.get(STEP_KIND, namespace, name) or body
        previous = EMRStepStatus.model_validate(body.get("status") or {})
        decided = _decide(ctx, body, spec)
    recorded = await _record(ctx, body, previous, decided)
    decision = await _act_and_record_refusal(ctx, body, spec, recorded)
    await release_drivers(ctx, namespace, name, body["metadata"]["uid"], decision.status)
    owner = {"apiVersion": API_VERSION, "kind": STEP_KIND, "metadata": body["metadata"]}
    for event in decision.events:  # outside the lock: the queue of the cluster's other steps moves on
        await ctx.events.record(owner, event.type, event.reason, event.message)
    _observe_metrics(ctx, namespace, previous, decision)
    return decision.requeue_after


@dataclass(frozen=True)
class Recorded:
    """A step's decision, with what carrying it out needs: `_decide`'s (to be written, `version` the one it
    was decided on), then `_record`'s (as written, `version` the one after the write)."""

    decision: StepDecision
    version: str  # the step's resourceVersion after the write
    now: datetime
    resolved: ResolvedCluster | None
    cluster_spec: EMRClusterSpec | None
    finished: bool = False  # its driver pod has ended: the decision records the result


def _decide(ctx: Context, body: Mapping[str, Any], spec: EMRStepSpec) -> Recorded:
    """Decides the step from the store (under the cluster's step lock; no I/O); `version` is the step's
    current one."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    now = datetime.now(UTC).replace(microsecond=0)
    previous = EMRStepStatus.model_validate(body.get("status") or {})
    cluster, cluster_spec, resolved = view_cluster(ctx, namespace, spec.cluster_ref.name)
    steps = ctx.store.steps_of(namespace, spec.cluster_ref.name)
    last = previous.attempts[-1] if previous.attempts else None
    pod = ctx.store.get("Pod", namespace, last.driver_pod) if last else None
    if pod is not None and not controlled_by(pod, meta["uid"]):
        pod = None  # an earlier EMRStep's of the same name: never adopted, never its result (as Jobs check)

    decision = decide_step(
        name,
        spec,
        int(meta.get("generation", 1)),
        previous,
        parse_time(meta.get("creationTimestamp")) or now,
        cluster,
        may_start=name in startable(steps, cluster.step_concurrency),
        cancelled_by=cancelled_by(body, steps),
        pod=driver_view(pod),
        issues=step_issues(spec, cluster_spec),
        now=now,
        start_timeout=ctx.config.driver_start_timeout_seconds,
        revision=meta.get("resourceVersion"),
    )
    finished = pod is not None and (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    return Recorded(decision, meta["resourceVersion"], now, resolved, cluster_spec, finished)


async def _record(
    ctx: Context, body: Mapping[str, Any], previous: EMRStepStatus, decided: Recorded
) -> Recorded:
    """Writes the decided status (from `previous`, under optimistic concurrency at the decided version);
    the result carries the step's resourceVersion after the write."""
    owner = {"apiVersion": API_VERSION, "kind": STEP_KIND, "metadata": body["metadata"]}
    version = await _write_status(ctx, owner, previous, decided.decision, decided.version, decided.finished)
    return dataclasses.replace(decided, version=version)


async def _act_and_record_refusal(
    ctx: Context, body: Mapping[str, Any], spec: EMRStepSpec, recorded: Recorded
) -> StepDecision:
    """Carries out the recorded decision (creates or deletes the driver pod); a driver pod the apiserver
    refused is written to the step's status too. Returns the decision as it stands."""
    decision, now = recorded.decision, recorded.now
    refusal = await _act(ctx, body, spec, decision, recorded.resolved, recorded.cluster_spec)
    if refusal is None:
        return decision
    owner = {"apiVersion": API_VERSION, "kind": STEP_KIND, "metadata": body["metadata"]}
    # The apiserver refused the driver pod: that is part of the step's status, never only a log line.
    after = refused(
        spec,
        decision.status,
        refusal,
        decision.status.observed_generation or 1,
        now,
        ctx.config.driver_start_timeout_seconds,
    )
    await _write_status(ctx, owner, decision.status, after, recorded.version)
    return StepDecision(
        status=after.status,
        action=decision.action,
        events=decision.events + after.events,
        requeue_after=after.requeue_after,
    )


CACHE_LAG_RECHECK_SECONDS = 1.0


async def _exists(ctx: Context, kind: str, namespace: str, name: str) -> bool:
    """Asks the apiserver (a list by name: the chart grants list, not get) whether the EMRCluster or EMRStep
    exists: the watch cache can lag behind (a step and its cluster applied together, or an operator just
    started, may see the step before its cluster, or a driver pod before its step). What is missing from the
    cache fails a step or releases its drivers only when it is really gone."""
    found = await ctx.kube.request(
        "GET", kind_named(kind).collection(namespace), query={"fieldSelector": f"metadata.name={name}"}
    )
    return bool(found.get("items"))


async def _write_status(
    ctx: Context,
    owner: Mapping[str, Any],
    old: EMRStepStatus,
    decision: StepDecision,
    version: str,
    recording_result: bool = False,
) -> str:
    """Patches the step's status from `old` to the decision's (nothing when equal), under optimistic
    concurrency at `version`; returns the resourceVersion after the write. `recording_result`: the driver has
    finished (the crash point `step-before-result-recorded` fires before such a write)."""
    patch = status_patch(old.to_dict(), decision.status.to_dict())
    if not patch:
        return version
    if recording_result:
        crash_point("step-before-result-recorded")
    try:
        updated = await patch_status(ctx.kube, owner, patch, resource_version=version)
    except ApiError as err:
        if err.conflict:  # decided on an older step than the apiserver's: the retry decides on the current
            await _refresh(ctx, owner["metadata"]["namespace"], owner["metadata"]["name"])
        raise
    ctx.store.upsert(STEP_KIND, {"apiVersion": API_VERSION, "kind": STEP_KIND, **updated})
    return str(updated["metadata"]["resourceVersion"])


async def _refresh(ctx: Context, namespace: str, name: str) -> None:
    """The step as the apiserver has it, into the store (a list by name: the chart grants list, not get). The
    watch cache is the usual source; after a 409 it holds an older version than the apiserver's, and if no
    newer event is on its way (seen in CI: a step stuck PENDING, 409 on every retry) every retry from it
    would conflict again."""
    found = await ctx.kube.request(
        "GET", kind_named(STEP_KIND).collection(namespace), query={"fieldSelector": f"metadata.name={name}"}
    )
    for item in found.get("items") or []:
        ctx.store.upsert(STEP_KIND, {"apiVersion": API_VERSION, "kind": STEP_KIND, **item})


async def release_drivers(
    ctx: Context, namespace: str, step: str, uid: str | None, status: EMRStepStatus | None
) -> None:
    """Removes DRIVER_FINALIZER from the step's driver pods whose outcome is recorded in `status` (the
    status just written): every pod but the running attempt's. With `uid`/`status` None (the step is gone),
    from all of its pods. A pod of another step of the same name is released too: its owner is gone."""
    running = None
    if status is not None and status.attempts and status.attempts[-1].outcome is None:
        running = status.attempts[-1].driver_pod
    if status is not None:  # the attempts name every pod the step made
        found = (ctx.store.get("Pod", namespace, a.driver_pod) for a in status.attempts)
        pods = [p for p in found if p is not None]
    else:
        pods = ctx.store.all("Pod", namespace)
    for pod in pods:
        meta = pod["metadata"]
        if (meta.get("labels") or {}).get(LABEL_STEP) != step:
            continue
        if DRIVER_FINALIZER not in (meta.get("finalizers") or []):
            continue
        if meta["name"] == running and uid is not None and controlled_by(pod, uid):
            continue  # its outcome is not recorded yet
        kept = [f for f in meta.get("finalizers") or [] if f != DRIVER_FINALIZER]
        patch = {"metadata": {"finalizers": kept or None, "resourceVersion": meta["resourceVersion"]}}
        try:
            updated = await merge_patch(
                ctx.kube, {"apiVersion": "v1", "kind": "Pod", "metadata": meta}, patch
            )
            ctx.store.upsert("Pod", {"apiVersion": "v1", "kind": "Pod", **updated})
        except ApiError as err:
            if not (err.not_found or err.conflict):  # gone, or changed: the pod's next event retries
                raise


def controlled_by(obj: Mapping[str, Any], uid: str) -> bool:
    """Whether `obj`'s controller owner reference is the object with `uid` (a pod left by a deleted EMRStep
    of the same name is not)."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(r.get("controller") and r.get("uid") == uid for r in refs)


async def _act(
    ctx: Context,
    body: Mapping[str, Any],
    spec: EMRStepSpec,
    decision: StepDecision,
    resolved: ResolvedCluster | None,
    cluster_spec: EMRClusterSpec | None,
) -> PodRefusal | None:
    """Carries out the decision's action; returns the apiserver's refusal of a driver pod, if it refused."""
    attempt = decision.status.attempts[-1] if decision.status.attempts else None
    if attempt is None or decision.action == Action.NONE:
        return None
    namespace = body["metadata"]["namespace"]
    if decision.action == Action.DELETE_POD:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"namespace": namespace, "name": attempt.driver_pod},
        }
        await delete(ctx.kube, pod, grace_seconds=decision.grace_seconds)
        return None
    if resolved is None or cluster_spec is None:
        return None
    crash_point("step-attempt-recorded")
    manifest = build_driver_pod(
        resolved, body, spec, attempt.number, attempt.driver_pod, cluster_spec.pod_overrides
    )
    started = time.monotonic()
    try:
        created = await create(ctx.kube, manifest)
        ctx.store.upsert("Pod", {"apiVersion": "v1", "kind": "Pod", **created})
        STEP_SUBMIT_LATENCY_SECONDS.observe(time.monotonic() - started)
    except ApiError as err:
        # Already exists: ours, created before a restart (never a second driver), or an earlier step's.
        if err.conflict:
            return await _foreign_driver(ctx, namespace, attempt.driver_pod, body["metadata"]["uid"])
        log.warning("driver pod %s/%s refused: %s", namespace, attempt.driver_pod, err)
        return classify_refusal(err.status, err.message)
    return None


async def _foreign_driver(ctx: Context, namespace: str, name: str, uid: str) -> PodRefusal | None:
    """None when the existing pod `name` is this step's; else a transient refusal: a pod of an earlier EMRStep
    of the same name, which the garbage collector removes (its owner is gone). Read from the watch cache."""
    pod = ctx.store.get("Pod", namespace, name)
    if pod is None:  # not in the cache yet: the next try tells
        return PodRefusal(transient=True, message=f"pod {name} already exists and is not yet observed")
    if controlled_by(pod, uid):
        return None
    return PodRefusal(
        transient=True,
        message=f"pod {name} of an earlier EMRStep of the same name still exists and is never adopted; the "
        f"garbage collector removes it once its owner is gone, or remove it: kubectl delete pod {name}",
    )


def _observe_metrics(ctx: Context, namespace: str, previous: EMRStepStatus, decision: StepDecision) -> None:
    status = decision.status
    if status.state != previous.state and status.state in (
        StepState.COMPLETED,
        StepState.FAILED,
        StepState.CANCELLED,
    ):
        timeline = status.timeline
        if timeline and timeline.started and timeline.ended:
            STEP_DURATION_SECONDS.labels(status.state.value).observe(
                (timeline.ended - timeline.started).total_seconds()
            )
    counts: dict[str, int] = {}
    for step in ctx.store.all(STEP_KIND, namespace):
        state = (step.get("status") or {}).get("state") or StepState.PENDING.value
        counts[state] = counts.get(state, 0) + 1
    for state in StepState:
        STEPS.labels(namespace, state.value).set(counts.get(state.value, 0))
