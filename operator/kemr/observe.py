"""Observe: what the cluster's children say about it, summarised from the watch cache (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kemr.api import GroupRole, StepState
from kemr.api.constants import LABEL_FALLBACK, LABEL_GROUP, LABEL_ROLE, ROLE_TASK
from kemr.builders.pod import BOOTSTRAP_PREFIX

# Steps not finished yet: the cluster is not idle while one exists (INTERRUPTED: waiting for its retry).
UNFINISHED_STEP_STATES = frozenset(
    {StepState.PENDING, StepState.RUNNING, StepState.CANCEL_PENDING, StepState.INTERRUPTED}
)


@dataclass(frozen=True)
class ObservedGroup:
    name: str
    role: GroupRole
    desired: int
    ready: int
    rolled_out: bool  # every pod runs the current template

    @property
    def complete(self) -> bool:
        return self.ready >= self.desired and self.rolled_out


@dataclass(frozen=True)
class ObservedSteps:
    by_state: Mapping[StepState, int] = field(default_factory=dict)
    last_end_time: datetime | None = None
    terminate_cluster_failure: str | None = None  # name of a failed TERMINATE_CLUSTER step

    def count(self, *states: StepState) -> int:
        return sum(self.by_state.get(s, 0) for s in states)

    @property
    def active(self) -> int:
        return self.count(*UNFINISHED_STEP_STATES)


@dataclass(frozen=True)
class ObservedCluster:
    groups: tuple[ObservedGroup, ...]
    initializing_pods: int  # master/core pods still running init containers (bootstrap actions)
    remaining: int  # pods, workloads and volume claims still present (termination is done at 0)
    steps: ObservedSteps = field(default_factory=ObservedSteps)
    # Spot task groups' on-demand stand-ins, by the spot group's name.
    fallbacks: tuple[ObservedGroup, ...] = ()
    # Task pods (not stand-ins) the scheduler can't place, by group: since when.
    unschedulable: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)
    # Why master/core pods aren't running, in the scheduler's or kubelet's words, one line per pod.
    daemon_problems: tuple[str, ...] = ()
    # What the cluster depends on outside itself and isn't ready (its DataCatalog), one line each: the cluster
    # is not ready while there is one.
    dependency_problems: tuple[str, ...] = ()
    # Bootstrap actions (init containers) of master/core pods that exited non-zero, one line each.
    bootstrap_failures: tuple[str, ...] = ()
    # Its attached notebooks (kemr.status.notebook.notebook_activity): a kernel busy now, and the latest
    # kernel activity. The cluster is not idle while one is busy; idle time counts from the latest activity.
    notebook_busy: bool = False
    notebook_last_activity: datetime | None = None

    def group(self, name: str) -> ObservedGroup | None:
        return next((g for g in self.groups if g.name == name), None)

    def fallback(self, name: str) -> ObservedGroup | None:
        return next((g for g in self.fallbacks if g.name == name), None)


def is_fallback(obj: Mapping[str, Any]) -> bool:
    return LABEL_FALLBACK in (obj["metadata"].get("labels") or {})


def unschedulable_since(pod: Mapping[str, Any]) -> datetime | None:
    """When the scheduler found no node for a pending pod (its PodScheduled condition), else None."""
    status = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp") or status.get("phase") not in (None, "Pending"):
        return None
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            stamp = cond.get("lastTransitionTime")
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
    return None


def unschedulable_task_pods(pods: Iterable[Mapping[str, Any]]) -> dict[str, tuple[datetime, ...]]:
    found: dict[str, list[datetime]] = {}
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        if labels.get(LABEL_ROLE) != ROLE_TASK or LABEL_FALLBACK in labels:
            continue
        if (since := unschedulable_since(pod)) is not None:
            found.setdefault(labels.get(LABEL_GROUP, ""), []).append(since)
    return {group: tuple(sorted(times)) for group, times in found.items()}


def observe_group(workload: Mapping[str, Any]) -> ObservedGroup:
    """A StatefulSet's or Deployment's readiness; the role and group come from the operator's labels."""
    labels = workload["metadata"].get("labels") or {}
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    desired = int(spec.get("replicas", 1))
    generation_seen = status.get("observedGeneration", 0) >= workload["metadata"].get("generation", 0)
    if workload["kind"] == "StatefulSet":
        rolled_out = status.get("currentRevision") == status.get("updateRevision") or desired == 0
    else:
        rolled_out = status.get("updatedReplicas", 0) >= desired
    return ObservedGroup(
        name=labels.get(LABEL_GROUP, workload["metadata"]["name"]),
        role=GroupRole(labels.get(LABEL_ROLE, "core")),
        desired=desired,
        ready=int(status.get("readyReplicas", 0)) if generation_seen else 0,
        rolled_out=rolled_out and generation_seen,
    )


def _initializing(pod: Mapping[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("initContainerStatuses") or []
    return any("terminated" not in (s.get("state") or {}) for s in statuses)


# Container waiting reasons that are a normal part of starting, not a problem to report.
STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})


def why_not_running(pod: Mapping[str, Any]) -> str | None:
    """Why a pod (a Pod object) isn't running as it should, in the scheduler's or the kubelet's words: not
    scheduled, a container waiting for a reason other than starting (image, config, crash loop — with the
    last exit code), an init container that failed. None while it runs or starts normally."""
    status = pod.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("message"):
            return f"not scheduled: {cond['message']}"
    for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        waiting = (c.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] not in STARTING_REASONS:
            why = f"container {c.get('name')}: {waiting['reason']}"
            why += f": {waiting['message']}" if waiting.get("message") else ""
            last = (c.get("lastState") or {}).get("terminated") or {}
            if last.get("exitCode") is not None:
                reason = f", {last['reason']}" if last.get("reason") else ""
                why += f" (last exit code {last['exitCode']}{reason})"
            return why
    return None


def failed_bootstrap(pod: Mapping[str, Any]) -> str | None:
    """The first bootstrap action (an init container named bootstrap-<action>) of the pod that exited
    non-zero, now or before a restart: "bootstrap action NAME exited with code N in pod P: MESSAGE"."""
    for c in (pod.get("status") or {}).get("initContainerStatuses") or []:
        name = str(c.get("name") or "")
        if not name.startswith(BOOTSTRAP_PREFIX):
            continue
        for state in (c.get("state") or {}, c.get("lastState") or {}):
            ended = state.get("terminated") or {}
            if ended.get("exitCode"):
                detail = (ended.get("message") or ended.get("reason") or "").strip()
                action, where = name.removeprefix(BOOTSTRAP_PREFIX), pod["metadata"]["name"]
                said = f": {detail}" if detail else ""
                return f"bootstrap action {action} exited with code {ended['exitCode']} in pod {where}{said}"
    return None


def observe_cluster(
    workloads: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    claims: Iterable[Mapping[str, Any]],
    steps: ObservedSteps | None = None,
) -> ObservedCluster:
    workloads, pods, claims = list(workloads), list(pods), list(claims)
    daemon_pods = [
        p for p in pods if (p["metadata"].get("labels") or {}).get(LABEL_ROLE) in ("master", "core")
    ]
    main = [w for w in workloads if not is_fallback(w)]
    return ObservedCluster(
        groups=tuple(sorted((observe_group(w) for w in main), key=lambda g: (g.role.value, g.name))),
        initializing_pods=sum(1 for p in daemon_pods if _initializing(p)),
        remaining=len(workloads) + len(pods) + len(claims),
        steps=steps or ObservedSteps(),
        fallbacks=tuple(observe_group(w) for w in workloads if is_fallback(w)),
        unschedulable=unschedulable_task_pods(pods),
        daemon_problems=tuple(
            f"pod {p['metadata']['name']}: {why}" for p in daemon_pods if (why := why_not_running(p))
        ),
        bootstrap_failures=tuple(f for p in daemon_pods if (f := failed_bootstrap(p))),
    )


def catalog_problem(name: str, namespace: str, catalog: Mapping[str, Any] | None) -> str | None:
    """Why the DataCatalog `name` a cluster names in spec.catalog can't serve it yet (None: it is ACTIVE): it
    doesn't exist, or isn't ready — in its Ready condition's words."""
    if catalog is None:
        return (
            f"spec.catalog: DataCatalog {name} does not exist in namespace {namespace}: create it"
            " (docs/hive.md) or fix the name"
        )
    if catalog["metadata"].get("deletionTimestamp"):
        return f"spec.catalog: DataCatalog {name} is being deleted: use another catalog (a new cluster)"
    status = catalog.get("status") or {}
    if status.get("state") == "ACTIVE":
        return None
    ready: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
    )
    why = ready.get("message") or "starting"
    return f"spec.catalog: DataCatalog {name} is not ready ({status.get('state') or 'CREATING'}): {why}"


def pod_ended_message(pod: Mapping[str, Any]) -> str:
    """Why an ended history server pod ended: its container's termination message (the JVM's last output,
    FallbackToLogsOnError), else its reason."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        ended = (container.get("state") or {}).get("terminated") or {}
        if said := (ended.get("message") or "").strip():
            return said[-1000:]
        if ended.get("reason"):
            return f"{ended['reason']} (exit code {ended.get('exitCode')})"
    return status.get("reason") or status.get("message") or "it ended"
