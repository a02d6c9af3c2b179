"""A DataCatalog's status, decided from what its children say (pure): CREATING → ACTIVE ⇄ DEGRADED, DELETING.

Conditions: DatabaseReady (the database accepts the metastore: its pod is ready, the schema tool got through),
Ready (a metastore pod answers on its thrift port, its database is ready), Synced (every child was applied),
Reconciling (not ACTIVE yet, for kstatus; an invalid spec is Stalled, kemr.controllers.catalog). A catalog
that isn't ready says why within one reconcile: the database pod's or metastore pod's problem in the
scheduler's or kubelet's words, or the schema tool's last words (e.g. the database it could not reach).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kemr.api.catalog import CatalogState, DataCatalogStatus
from kemr.api.constants import LABEL_ROLE
from kemr.observe import why_not_running
from kemr.status.cluster import Event
from kemr.status.conditions import SYNCED, condition, synced

READY = "Ready"
RECONCILING = "Reconciling"
DATABASE_READY = "DatabaseReady"
ROLE_DATABASE = "database"
ROLE_METASTORE = "metastore"
SCHEMA_CONTAINER = "schema"
MAX_MESSAGE = 1024


@dataclass(frozen=True)
class ObservedCatalog:
    """What the catalog's children and the clusters using it say."""

    # The in-cluster database's pod is ready (an external one: the schema tool got through).
    database_ready: bool
    database_problem: str | None  # why the database isn't ready
    metastore_ready: int  # metastore pods ready
    metastore_problem: str | None  # why no metastore pod is ready
    clusters: tuple[str, ...]  # EMRClusters not yet terminated that name the catalog in spec.catalog


@dataclass(frozen=True)
class CatalogDecision:
    status: DataCatalogStatus
    events: tuple[Event, ...]
    release_finalizer: bool  # deleting, and no cluster uses the catalog any more


def schema_failure(pod: Mapping[str, Any]) -> str | None:
    """The schema tool's last words when it exited non-zero (now, or before a restart while it hasn't got
    through since): its termination message (the end of its output), e.g. that the database could not be
    reached. None once it got through."""
    for status in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if status.get("name") != SCHEMA_CONTAINER:
            continue
        if ((status.get("state") or {}).get("terminated") or {}).get("exitCode") == 0:
            return None  # an earlier failure is history
        for state in (status.get("state") or {}, status.get("lastState") or {}):
            ended = state.get("terminated") or {}
            if ended.get("exitCode"):
                said = (ended.get("message") or ended.get("reason") or "").strip()
                return f"the schema tool exited with code {ended['exitCode']}: {said[-MAX_MESSAGE:]}"
    return None


def schema_done(pod: Mapping[str, Any]) -> bool:
    """The schema tool got through: the database answered and holds the metastore's schema."""
    return any(
        s.get("name") == SCHEMA_CONTAINER
        and ((s.get("state") or {}).get("terminated") or {}).get("exitCode") == 0
        for s in (pod.get("status") or {}).get("initContainerStatuses") or []
    )


def _is_ready(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def observe_catalog(
    pods: Iterable[Mapping[str, Any]], in_cluster_database: bool, clusters: Iterable[str]
) -> ObservedCatalog:
    """Summarise the catalog's pods (from the watch cache) and the names of the clusters using it."""
    by_role: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        if not pod["metadata"].get("deletionTimestamp"):
            by_role.setdefault((pod["metadata"].get("labels") or {}).get(LABEL_ROLE, ""), []).append(pod)
    metastores = by_role.get(ROLE_METASTORE, [])
    ready = sum(1 for p in metastores if _is_ready(p))
    schema = next(filter(None, (schema_failure(p) for p in metastores)), None)
    metastore_problem = None
    if not ready:
        problems = (why_not_running(p) for p in metastores)
        metastore_problem = schema or next(filter(None, problems), None)
    if in_cluster_database:
        databases = by_role.get(ROLE_DATABASE, [])
        db_ready = any(_is_ready(p) for p in databases)
        db_problem = None if db_ready else next(filter(None, (why_not_running(p) for p in databases)), None)
        if db_ready and schema:
            db_ready, db_problem = False, schema
    else:
        db_ready = ready > 0 or any(schema_done(p) for p in metastores)
        db_problem = None if db_ready else schema
    return ObservedCatalog(
        database_ready=db_ready,
        database_problem=db_problem,
        metastore_ready=ready,
        metastore_problem=metastore_problem,
        clusters=tuple(sorted(set(clusters))),
    )


def decide_catalog(
    previous: DataCatalogStatus,
    observed: ObservedCatalog,
    *,
    endpoint: str,
    database: str,
    deleting: bool,
    apply_error: tuple[str, str] | None,
    generation: int,
    now: datetime,
) -> CatalogDecision:
    """The catalog's next status, its Events (on state changes and new problems), and whether its deletion may
    go ahead (no cluster uses it)."""
    # Serving: a metastore answers and its database is there (a metastore whose database is down answers
    # its port and fails every call).
    ready = observed.metastore_ready > 0 and observed.database_ready
    was_ready = previous.ready_time is not None
    if deleting:
        state = CatalogState.DELETING
    elif ready:
        state = CatalogState.ACTIVE
    else:
        state = CatalogState.DEGRADED if was_ready else CatalogState.CREATING
    db_message = (
        "the database accepts connections"
        if observed.database_ready
        else f"waiting for the database ({database}): {observed.database_problem or 'starting'}"
    )
    if ready:
        ready_reason, ready_message = "MetastoreReady", f"{observed.metastore_ready} metastore pod(s) answer"
    elif not observed.database_ready:
        ready_reason, ready_message = "DatabaseNotReady", db_message
    else:
        ready_reason = "MetastoreNotReady"
        ready_message = f"the metastore is not answering yet: {observed.metastore_problem or 'starting'}"
    if deleting and observed.clusters:  # still serving them; Ready says why the delete waits
        ready_message = (
            f"deletion waits: EMRClusters {', '.join(observed.clusters)} still use this catalog; terminate or"
            " delete them first"
        )
        ready_reason = "DeletionWaiting"
    conditions = [
        condition(previous.conditions, READY, ready, ready_reason, ready_message, generation, now),
        condition(
            previous.conditions,
            DATABASE_READY,
            observed.database_ready,
            "DatabaseReady" if observed.database_ready else "DatabaseNotReady",
            db_message,
            generation,
            now,
        ),
        synced(previous.conditions, apply_error, generation, now),
        # kstatus (Flux, cli-utils) reads Reconciling: a catalog not serving yet is InProgress, so a
        # Kustomization of clusters that dependsOn it waits.
        condition(
            previous.conditions,
            RECONCILING,
            state != CatalogState.ACTIVE,
            str(state).title(),
            "" if state == CatalogState.ACTIVE else ready_message,
            generation,
            now,
        ),
    ]
    status = DataCatalogStatus(
        state=state,
        observed_generation=generation,
        conditions=conditions,
        endpoint=endpoint,
        database=database,
        clusters=list(observed.clusters),
        ready_time=previous.ready_time or (now if ready else None),
    )
    events = list(_events(previous, status, ready_message))
    old_sync = next((c for c in previous.conditions if c.type == SYNCED), None)
    if apply_error and (old_sync is None or old_sync.message != apply_error[1]):
        events.append(Event("Warning", "ApplyFailed", apply_error[1]))  # a new refusal, as a cluster's
    return CatalogDecision(
        status=status,
        events=tuple(events),
        release_finalizer=deleting and not observed.clusters,
    )


def _events(previous: DataCatalogStatus, status: DataCatalogStatus, message: str) -> Sequence[Event]:
    events = []
    if status.state != previous.state:
        warning = status.state == CatalogState.DEGRADED
        reason = f"Catalog{str(status.state).title()}"
        events.append(Event("Warning" if warning else "Normal", reason, message))
    old = next((c for c in previous.conditions if c.type == READY), None)
    new = next(c for c in status.conditions if c.type == READY)
    if (
        new.status == "False"
        and old is not None
        and old.message != new.message
        and new.reason != "MetastoreNotReady"
    ):
        events.append(Event("Warning", new.reason or "NotReady", message))
    return events
