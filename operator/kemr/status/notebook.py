"""An EMRNotebook's status, decided from its cluster, its Secret, its pod and Jupyter's REST API (pure).

Two steps, as the reconcile runs them: `attachment` (before building: may the notebook run now, and if not,
in which state and why) and `decide_notebook` (after applying: the state from the pod and the kernels).
`notebook_activity` is the cluster's idle rule's view of its notebooks (EMR: a cluster with an attached
notebook whose kernel is active is not idle).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from kemr.api.cluster import ClusterState
from kemr.api.notebook import (
    NOTEBOOK_URL_PATH,
    EMRNotebookSpec,
    EMRNotebookStatus,
    NotebookKernels,
    NotebookState,
    NotebookStateChangeReason,
)
from kemr.api.notebook import NotebookStateChangeReasonCode as Code
from kemr.observe import why_not_running
from kemr.status.cluster import Event
from kemr.status.conditions import SYNCED, condition, find, synced

READY: Final = "Ready"
# A pod that can't run (image, crash loop, unschedulable) for this long makes the notebook FAILED.
NOTEBOOK_FAILURE_SECONDS: Final = 600.0
# Jupyter's execution_state of a kernel at work: running a cell, or starting — kemr's kernels make their
# SparkSession (a JVM, an application on the cluster's master) while "starting": tens of seconds.
WORKING_STATES: Final = frozenset({"busy", "starting", "restarting"})
KERNELS_POLL_SECONDS: Final = 30.0  # while READY with token auth: Jupyter's kernels' activity
STARTING_RECHECK_SECONDS: Final = 15.0  # while starting or failing, in case a pod event is missed
SECRET_RECHECK_SECONDS: Final = 30.0  # Secrets are not watched: look again for a missing one
ATTACHABLE_STATES: Final = frozenset({ClusterState.WAITING, ClusterState.RUNNING})
DETACHING_STATES: Final = frozenset(
    {ClusterState.TERMINATING, ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS}
)
_WARNING_CODES: Final = frozenset(
    {Code.SECRET_NOT_FOUND, Code.VALIDATION_ERROR, Code.CLUSTER_NOT_FOUND, Code.POD_FAILURE}
)


@dataclass(frozen=True)
class Attachment:
    """Whether the notebook's pod should run now; if not, the state and reason to report (`state` is the
    state with no pod left: STOPPED or PENDING; STOPPING is shown while a STOPPED notebook's pod goes)."""

    wanted: bool
    state: NotebookState | None = None
    code: Code | None = None
    message: str | None = None


def attachment(
    spec: EMRNotebookSpec,
    namespace: str,
    cluster: Mapping[str, Any] | None,
    cluster_problem: str | None,
    secret_problem: str | None,
) -> Attachment:
    """May the notebook run, from its spec, its cluster (the EMRCluster object, None when not found), a
    problem resolving the cluster (its spec can't be built) and a problem with its Secret (None: fine)."""
    name = spec.cluster_ref.name
    if spec.stop:
        return Attachment(False, NotebookState.STOPPED, Code.USER_REQUEST, "stopped: spec.stop is true")
    if cluster is None:
        return Attachment(
            False,
            NotebookState.PENDING,
            Code.CLUSTER_NOT_FOUND,
            f'EMRCluster "{name}" not found in namespace "{namespace}": create it, or set'
            " spec.clusterRef.name to a WAITING or RUNNING cluster",
        )
    status = cluster.get("status") or {}
    state = status.get("state") or ClusterState.STARTING.value
    if state in DETACHING_STATES or cluster["metadata"].get("deletionTimestamp"):
        return Attachment(
            False,
            NotebookState.STOPPED,
            Code.CLUSTER_TERMINATED,
            f"detached: the cluster terminated (EMRCluster {name} is {state}); the notebooks are in S3: set"
            " spec.clusterRef.name to a WAITING or RUNNING cluster to re-attach",
        )
    if state not in ATTACHABLE_STATES:
        return Attachment(
            False,
            NotebookState.PENDING,
            Code.CLUSTER_NOT_READY,
            f"waiting for EMRCluster {name}: it is {state}; the notebook starts once it is WAITING or"
            " RUNNING",
        )
    if cluster_problem is not None:
        return Attachment(
            False, NotebookState.PENDING, Code.CLUSTER_NOT_READY, f"EMRCluster {name}: {cluster_problem}"
        )
    if secret_problem is not None:
        return Attachment(False, NotebookState.PENDING, Code.SECRET_NOT_FOUND, secret_problem)
    return Attachment(True)


def secret_problem(spec: EMRNotebookSpec, secret: Mapping[str, Any] | None) -> str | None:
    """What is wrong with the notebook's Secret (the object as read, None when not found): missing, or
    without the key the spec names. None when the key is there."""
    field, ref_name, key = secret_ref(spec)
    if secret is None:
        return f'Secret "{ref_name}" ({field}.name) not found: create it with the key "{key}"'
    if key not in (secret.get("data") or {}) and key not in (secret.get("stringData") or {}):
        return f'Secret "{ref_name}" ({field}.name) has no key "{key}" ({field}.key): add it, or set the key'
    return None


def secret_ref(spec: EMRNotebookSpec) -> tuple[str, str, str]:
    """(the field naming it, the Secret's name, the key) of the notebook's token or password."""
    token, password = spec.auth.token_secret_ref, spec.auth.password_secret_ref
    if token is not None:
        return "spec.auth.tokenSecretRef", token.name, token.key
    if password is not None:
        return "spec.auth.passwordSecretRef", password.name, password.key
    raise ValueError("spec.auth sets neither tokenSecretRef nor passwordSecretRef")  # the model refuses it


@dataclass(frozen=True)
class KernelsReport:
    """One poll of Jupyter's GET /api/kernels: the counts and the latest activity, or why it failed."""

    kernels: NotebookKernels | None = None
    last_activity: datetime | None = None
    error: str | None = None


def summarize_kernels(body: Any) -> KernelsReport:
    """Jupyter Server's /api/kernels answer (a list of {id, name, last_activity (ISO 8601, UTC),
    execution_state, connections}) as counts: total, busy (execution_state in WORKING_STATES), and the latest
    last_activity. Raises ValueError for an answer of another shape."""
    if not isinstance(body, list):
        raise ValueError(f"expected a list of kernels, got {type(body).__name__}")
    busy, latest = 0, None
    for kernel in body:
        if not isinstance(kernel, Mapping):
            raise ValueError(f"expected a kernel object, got {type(kernel).__name__}")
        busy += kernel.get("execution_state") in WORKING_STATES
        stamp = kernel.get("last_activity")
        if isinstance(stamp, str) and stamp:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            latest = when if latest is None or when > latest else latest
    return KernelsReport(NotebookKernels(total=len(body), busy=busy), latest)


def notebook_pod(pods: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The notebook's current pod: the newest not being deleted (Recreate: an old one may still be going)."""
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return max(live, key=lambda p: p["metadata"].get("creationTimestamp") or "", default=None)


def pod_ready(pod: Mapping[str, Any] | None) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in ((pod or {}).get("status") or {}).get("conditions") or []
    )


def _created(pod: Mapping[str, Any]) -> datetime | None:
    value = pod["metadata"].get("creationTimestamp")
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class NotebookDecision:
    status: EMRNotebookStatus
    events: tuple[Event, ...]
    requeue_after: float | None


def _running_state(
    previous: EMRNotebookStatus, pod: Mapping[str, Any] | None, now: datetime
) -> tuple[NotebookState, Code | None, str | None]:
    """STARTING, READY or FAILED, from the pod of a notebook that should run."""
    if pod is not None and pod_ready(pod):
        return NotebookState.READY, None, None
    problem = why_not_running(pod) if pod is not None else None
    if pod is None or problem is None:
        return NotebookState.STARTING, None, "waiting for the notebook's pod to be ready"
    # Not ready since the Ready condition went False (or now, if it was True), and not before the pod began.
    ready = find(previous.conditions, READY)
    since = ready.last_transition_time if ready is not None and ready.status == "False" else now
    created = _created(pod)
    since = max(since, created) if created else since
    message = f"pod {pod['metadata']['name']}: {problem}"
    if (now - since).total_seconds() >= NOTEBOOK_FAILURE_SECONDS:
        return NotebookState.FAILED, Code.POD_FAILURE, message
    return NotebookState.STARTING, Code.POD_NOT_RUNNING, message


def decide_notebook(
    previous: EMRNotebookStatus,
    spec: EMRNotebookSpec,
    attach: Attachment,
    pods: Sequence[Mapping[str, Any]],
    report: KernelsReport | None,
    apply_error: tuple[str, str] | None,
    generation: int,
    now: datetime,
) -> NotebookDecision:
    """The notebook's status: from `attach` while it should not run (STOPPING while a pod remains); else from
    its pod (STARTING, READY, FAILED after NOTEBOOK_FAILURE_SECONDS of a pod that can't run). `report`: the
    kernels' poll of this round (None: not polled — not READY, or password auth). A failed poll keeps the
    last counts and says so in the Ready condition's message."""
    pod = notebook_pod(pods)
    kernels, last_activity = previous.kernels, previous.last_activity
    ready_message = ""
    if not attach.wanted:
        state, code, message = attach.state or NotebookState.STOPPED, attach.code, attach.message
        if state == NotebookState.STOPPED and pods:
            state = NotebookState.STOPPING
        kernels, cluster = None, None
    else:
        state, code, message = _running_state(previous, pod, now)
        cluster = spec.cluster_ref.name
        if state != NotebookState.READY:
            kernels = None
        elif spec.auth.token_secret_ref is None:
            kernels = None
            ready_message = "password auth: the kernels' activity is not read (status.kernels stays unset)"
        elif report is not None and report.error is None:
            kernels = report.kernels
            # Activity only moves forward: all kernels shut down leaves the last one's time.
            last_activity = max(filter(None, (last_activity, report.last_activity)), default=None)
        elif report is not None:
            ready_message = f"reading the kernels failed (last values kept): {report.error}"
    is_ready = state == NotebookState.READY
    conditions = [
        condition(
            previous.conditions,
            READY,
            is_ready,
            ("KernelsUnknown" if ready_message and report is not None else "Ready")
            if is_ready
            else state.value.title(),
            (ready_message or "JupyterLab answers") if is_ready else (message or ""),
            generation,
            now,
        ),
        synced(previous.conditions, apply_error, generation, now),
    ]
    others = [c for c in previous.conditions if c.type not in (READY, SYNCED)]
    status = EMRNotebookStatus(
        state=state,
        state_change_reason=NotebookStateChangeReason(code=code, message=message) if message else None,
        observed_generation=generation,
        conditions=[*conditions, *others],
        cluster=cluster,
        url=NOTEBOOK_URL_PATH if is_ready else None,
        kernels=kernels,
        last_activity=last_activity,
    )
    return NotebookDecision(status, _events(previous, status), _requeue(state, code, spec))


def _events(previous: EMRNotebookStatus, status: EMRNotebookStatus) -> tuple[Event, ...]:
    """One Event when the state or its reason changes: Warning for what a user must fix or look at."""
    old_code = previous.state_change_reason.code if previous.state_change_reason else None
    new_code = status.state_change_reason.code if status.state_change_reason else None
    if (previous.state, old_code) == (status.state, new_code) or status.state is None:
        return ()
    warning = status.state == NotebookState.FAILED or new_code in _WARNING_CODES
    message = (status.state_change_reason.message if status.state_change_reason else None) or (
        f"JupyterLab is ready at {status.url}" if status.state == NotebookState.READY else status.state.value
    )
    reason = f"Notebook{status.state.value.title()}"
    return (Event("Warning" if warning else "Normal", reason, message or ""),)


def _requeue(state: NotebookState, code: Code | None, spec: EMRNotebookSpec) -> float | None:
    if state == NotebookState.READY:
        return KERNELS_POLL_SECONDS if spec.auth.token_secret_ref is not None else None
    if state in (NotebookState.STARTING, NotebookState.FAILED, NotebookState.STOPPING):
        return STARTING_RECHECK_SECONDS
    if code == Code.SECRET_NOT_FOUND:
        return SECRET_RECHECK_SECONDS
    return None  # PENDING on its cluster, STOPPED: the cluster's and the notebook's events wake it


def notebook_activity(statuses: Iterable[EMRNotebookStatus]) -> tuple[bool, datetime | None]:
    """What a cluster's idle rule counts of its attached notebooks (EMR: a cluster with an attached notebook
    whose kernel is active is not idle): (whether a kernel of a READY notebook is busy now, the latest
    activity of the READY notebooks, timezone-aware). A notebook's activity is the latest of its kernels'
    last_activity and the time it became READY (attaching is activity: the user is about to open it, and its
    first kernel is seconds away). Unknown kernel activity (password auth, not polled yet) counts as none
    beyond that: an unobservable notebook must not keep a cluster, and its bill, alive forever."""
    ready = [s for s in statuses if s.state == NotebookState.READY]
    busy = any(s.kernels is not None and s.kernels.busy > 0 for s in ready)
    times = [s.last_activity for s in ready] + [_ready_since(s) for s in ready]
    return busy, max(filter(None, times), default=None)


def _ready_since(status: EMRNotebookStatus) -> datetime | None:
    ready = find(status.conditions, READY)
    return ready.last_transition_time if ready is not None and ready.status == "True" else None


def with_fresh_kernels(
    busy: bool, last: datetime | None, reports: Iterable[KernelsReport]
) -> tuple[bool, datetime | None]:
    """`notebook_activity`'s answer updated with kernels read just now (before an idle termination: the
    notebooks' own 30 s polls may not have seen a cell that started since). A failed read adds nothing."""
    for report in reports:
        if report.error is None and report.kernels is not None:
            busy = busy or report.kernels.busy > 0
            last = max(filter(None, (last, report.last_activity)), default=None)
    return busy, last
