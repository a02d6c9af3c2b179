"""The EMRStep lifecycle, as EMR's: PENDING → RUNNING → COMPLETED | FAILED | CANCELLED, with CANCEL_PENDING
and INTERRUPTED, retries with backoff, deadlines and the cluster's step queue. Pure: the controller passes
what it observed and carries out the one action decided here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from kemr.api import (
    STEP_FINAL_STATES,
    ActionOnFailure,
    AttemptOutcome,
    ClusterState,
    EMRStepSpec,
    EMRStepStatus,
    FailureDetails,
    StepAttempt,
    StepReason,
    StepState,
    StepStateChangeReason,
    StepTimeline,
)
from kemr.api.constants import SPARK_APPLICATION_ID_PATTERN, SPARK_APPLICATION_ID_PREFIX
from kemr.observe import failed_bootstrap, why_not_running
from kemr.status.cluster import Event
from kemr.status.conditions import condition
from kemr.validate import ValidationIssue

STEP_INDEX_ANNOTATION = "kemr.io/step-index"  # an inline step's position in the cluster's spec.steps
MAX_INTERRUPTIONS = 3  # driver pods lost to node failures, retried without using up an attempt
INTERRUPTION_BACKOFF_SECONDS = 5
CANCEL_GRACE_SECONDS = 30
APPLICATION_ID = re.compile(SPARK_APPLICATION_ID_PATTERN)
# States that hold one of the cluster's stepConcurrency slots.
SLOT_STATES = frozenset({StepState.RUNNING, StepState.CANCEL_PENDING, StepState.INTERRUPTED})
TERMINATING_CLUSTER = frozenset(
    {ClusterState.TERMINATING, ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS}
)


class Action(Enum):
    NONE = "none"
    CREATE_POD = "create-pod"  # the driver pod of the last attempt (recorded in status first)
    DELETE_POD = "delete-pod"  # the driver pod of the last attempt, with a grace period


@dataclass(frozen=True)
class ClusterView:
    exists: bool
    state: ClusterState | None = None
    step_concurrency: int = 1
    log_uri: str | None = None  # the cluster's own prefix under logUri, ending in "/"
    terminating_since: datetime | None = None  # when the cluster stopped being ready to terminate

    @property
    def ready(self) -> bool:
        return self.state in (ClusterState.WAITING, ClusterState.RUNNING)


@dataclass(frozen=True)
class DriverView:
    """The last attempt's driver pod, as observed. The outcome is the driver container's, not the pod phase: a
    sidecar that keeps running does not keep the step running."""

    uid: str
    phase: str
    exit_code: int | None = None
    message: str | None = None
    application_id: str | None = None  # the Spark application the driver ran (submit.sh's first message line)
    lost: bool = False  # its node went away (pod GC / DisruptionTarget), not the job's fault
    deleting: bool = False
    started_at: datetime | None = None  # the driver container's running/terminated startedAt
    driver_exited: bool = False  # the driver container terminated (the pod may still run sidecars)
    terminated_reason: str | None = None  # the container's reason: Completed, Error, OOMKilled, …
    memory_limit: str | None = None  # the driver container's memory limit, as in the pod spec ("2Gi")
    not_started: str | None = None  # why it hasn't started, in the scheduler's / kubelet's words
    sidecars_running: bool = False  # another container still runs (an ordinary sidecar never ends by itself)

    @property
    def outcome(self) -> str | None:
        """`Succeeded` or `Failed` once the driver is done (its container, else the pod), else None."""
        if self.driver_exited and self.exit_code is not None:
            return "Succeeded" if self.exit_code == 0 else "Failed"
        return self.phase if self.phase in ("Succeeded", "Failed") else None

    @property
    def running(self) -> bool:
        return self.outcome is None and self.phase in ("Pending", "Running")


@dataclass(frozen=True)
class StepDecision:
    status: EMRStepStatus
    action: Action = Action.NONE
    grace_seconds: int = CANCEL_GRACE_SECONDS
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None


def driver_view(pod: Mapping[str, Any] | None, container: str = "driver") -> DriverView | None:
    """What the step needs of its driver pod (a Pod object as the apiserver returns it), or None."""
    if pod is None:
        return None
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    main = next((c for c in statuses if c.get("name") == container), statuses[0] if statuses else {})
    state = main.get("state") or {}
    terminated = state.get("terminated") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    disruption = conditions.get("DisruptionTarget", {})
    lost = disruption.get("status") == "True" and disruption.get("reason") in (
        "DeletionByPodGC",
        "TerminationByKubelet",
    )
    started = (state.get("running") or terminated).get("startedAt")
    application_id, message = split_termination_message(terminated.get("message"))
    return DriverView(
        uid=pod["metadata"]["uid"],
        phase=status.get("phase") or "Pending",
        exit_code=terminated.get("exitCode"),
        message=message,
        application_id=application_id,
        lost=lost or status.get("reason") == "NodeLost",
        deleting=bool(pod["metadata"].get("deletionTimestamp")),
        started_at=_parse_time(started),
        driver_exited=bool(terminated),
        terminated_reason=terminated.get("reason"),
        memory_limit=_memory_limit(pod, container),
        not_started=None if started or terminated else _why_not_started(pod),
        sidecars_running=any(
            c.get("name") != container and "running" in (c.get("state") or {}) for c in statuses
        ),
    )


def split_termination_message(message: str | None) -> tuple[str | None, str | None]:
    """(Spark application id, the rest) of a driver's termination message. submit.sh writes the application's
    id (Spark's `app-<yyyyMMddHHmmss>-<nnnn>`, from the standalone master) as a first line
    `kemr.io/spark-application-id: <id>` (SPARK_APPLICATION_ID_PREFIX), then the failure message if any; a
    message without that line (a command step's, or a driver killed before it wrote one) is returned whole.
    An empty rest is None."""
    if not message or not message.startswith(SPARK_APPLICATION_ID_PREFIX):
        return None, message
    first, _, rest = message.partition("\n")
    application_id = first.removeprefix(SPARK_APPLICATION_ID_PREFIX).strip()
    return (application_id if APPLICATION_ID.fullmatch(application_id) else None), (rest.strip() or None)


def _why_not_started(pod: Mapping[str, Any]) -> str | None:
    """Why the driver hasn't started (a failed bootstrap action, the scheduler's or kubelet's words), with the
    spec field to change; None while it starts normally."""
    why = failed_bootstrap(pod) or why_not_running(pod)
    return f"{why} ({_field_for(why)})" if why else None


def _field_for(why: str) -> str:
    """The spec field a start problem points at, from the words of its message."""
    lower = why.lower()
    if "bootstrap action" in lower:
        return "see the cluster's spec.bootstrapActions"
    if "insufficient cpu" in lower or ("cpu" in lower and "exceed" in lower):
        return "change spec.driver.resources.cpu"
    if "insufficient memory" in lower or ("memory" in lower and "exceed" in lower):
        return "change spec.driver.resources.memory"
    if "image" in lower:
        return "check the image: the cluster's spec.images / releaseLabel and the operator's imagePullSecrets"
    if "secret" in lower or "configmap" in lower:
        return "a Secret or ConfigMap the pod names is missing: spec.s3.credentials or podOverrides"
    if "taint" in lower or "affinity" in lower or "selector" in lower:
        return "check spec.podOverrides (nodeSelector, affinity, tolerations) and the operator's placement"
    return "see spec.driver and spec.podOverrides"


def _memory_limit(pod: Mapping[str, Any], container: str) -> str | None:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            return ((c.get("resources") or {}).get("limits") or {}).get("memory")
    return None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def driver_pod_name(step: str, attempt: int) -> str:
    return f"{step}-attempt-{attempt}"


def log_file(cluster: ClusterView, step: str, attempt: int) -> str | None:
    return f"{cluster.log_uri}steps/{step}/attempt-{attempt}/driver.log" if cluster.log_uri else None


@dataclass
class _Draft:
    """The status being decided, mutated only inside decide_step."""

    state: StepState
    reason: StepStateChangeReason | None
    attempts: list[StepAttempt]
    timeline: StepTimeline
    failure: FailureDetails | None
    events: list[Event] = field(default_factory=list)

    def move(self, state: StepState, code: StepReason | None, message: str, now: datetime) -> None:
        if state != self.state:
            kind = "Warning" if state in (StepState.FAILED, StepState.INTERRUPTED) else "Normal"
            self.events.append(
                Event(
                    kind,
                    state.value.title().replace("_", ""),
                    f"{self.state.value} → {state.value}: {message}",
                )
            )
        self.state = state
        self.reason = StepStateChangeReason(code=code.value if code else None, message=message)
        if state in STEP_FINAL_STATES and not self.timeline.ended:
            self.timeline = self.timeline.model_copy(update={"ended": now})

    def close_attempt(
        self,
        outcome: AttemptOutcome,
        now: datetime,
        exit_code: int | None = None,
        application_id: str | None = None,
    ) -> None:
        last = self.attempts[-1]
        update: dict[str, Any] = {"outcome": outcome, "end_time": now, "exit_code": exit_code}
        if application_id:
            update["application_id"] = application_id
        self.attempts[-1] = last.model_copy(update=update)

    def new_attempt(self, step: str, now: datetime) -> None:
        number = len(self.attempts) + 1
        self.attempts.append(
            StepAttempt(number=number, driver_pod=driver_pod_name(step, number), requested_time=now)
        )

    def driver_started(self, at: datetime) -> None:
        """The last attempt's driver container is running (or ran) since `at`."""
        last = self.attempts[-1]
        if last.start_time is None:
            self.attempts[-1] = last.model_copy(update={"start_time": at})
        if not self.timeline.started:
            self.timeline = self.timeline.model_copy(update={"started": at})

    def explain(self, message: str, reason: str = "DriverNotStarted") -> None:
        """A new explanation of a running step's wait (same state): in stateChangeReason, and once as a
        Warning Event with `reason`."""
        if self.reason is None or self.reason.message != message:
            self.events.append(Event("Warning", reason, message))
        self.reason = StepStateChangeReason(code=None, message=message)


def _count(attempts: Sequence[StepAttempt], *outcomes: AttemptOutcome) -> int:
    return sum(1 for a in attempts if a.outcome in outcomes)


def requested(attempt: StepAttempt) -> datetime | None:
    """When the attempt's driver was asked for (startTime for attempts recorded before requestedTime)."""
    return attempt.requested_time or attempt.start_time


def decide_step(
    name: str,
    spec: EMRStepSpec,
    generation: int,
    previous: EMRStepStatus,
    created: datetime,
    cluster: ClusterView,
    may_start: bool,
    cancelled_by: str | None,
    pod: DriverView | None,
    issues: Sequence[ValidationIssue],
    now: datetime,
    start_timeout: float = 600,
    revision: str | None = None,
) -> StepDecision:
    """The step's next status and the one action to carry out. `pod` is the last attempt's driver pod (only
    when the step controls it); `start_timeout` (seconds) bounds how long a driver may take to start;
    `revision` is the step's metadata.resourceVersion (kept as creationRevision when first recorded)."""
    d = _Draft(
        state=previous.state or StepState.PENDING,
        reason=previous.state_change_reason,
        attempts=list(previous.attempts),
        timeline=previous.timeline or StepTimeline(created=created),
        failure=previous.failure_details,
    )
    action, requeue = Action.NONE, None
    current = d.attempts[-1] if d.attempts and d.attempts[-1].outcome is None else None
    running = current is not None and pod is not None and pod.running

    if d.state in STEP_FINAL_STATES:
        pass
    elif issues:
        d.move(StepState.FAILED, StepReason.VALIDATION_ERROR, "; ".join(str(i) for i in issues), now)
        d.failure = FailureDetails(
            reason=StepReason.VALIDATION_ERROR.value, message=d.reason.message if d.reason else None
        )
        if running:
            action = Action.DELETE_POD
    elif not cluster.exists or cluster.state in TERMINATING_CLUSTER:
        code, message = _cluster_gone(cluster, spec)
        if running:
            action = Action.DELETE_POD
            d.close_attempt(AttemptOutcome.CANCELLED, now)
        # Steps caught by the termination are cancelled, as in EMR; a step sent to a cluster already
        # terminating or gone fails.
        since = cluster.terminating_since
        caught = cluster.exists and since is not None and created < since
        target = StepState.CANCELLED if d.timeline.started or caught else StepState.FAILED
        if target == StepState.FAILED:
            d.failure = FailureDetails(reason=code.value, message=message)
        d.move(target, code, message, now)
    elif spec.cancel:
        if running:
            if d.state != StepState.CANCEL_PENDING:
                d.move(
                    StepState.CANCEL_PENDING, StepReason.USER_REQUEST, "Cancelling: driver sent SIGTERM", now
                )
            action = Action.DELETE_POD
        else:
            if current is not None:
                d.close_attempt(
                    AttemptOutcome.CANCELLED,
                    now,
                    pod.exit_code if pod else None,
                    pod.application_id if pod else None,
                )
            d.move(StepState.CANCELLED, StepReason.USER_REQUEST, "Cancelled at user request", now)
    elif d.state == StepState.PENDING and cancelled_by:
        d.move(
            StepState.CANCELLED,
            StepReason.CANCELLED_BY_FAILED_STEP,
            f"Step {cancelled_by} failed and its actionOnFailure is CANCEL_AND_WAIT",
            now,
        )
    elif current is not None:
        action, requeue = _follow_attempt(d, name, spec, current, pod, cluster, now, start_timeout)
    elif d.state in (StepState.RUNNING, StepState.INTERRUPTED):  # between attempts: backoff
        last = d.attempts[-1]
        interrupted = last.outcome == AttemptOutcome.INTERRUPTED
        wait = INTERRUPTION_BACKOFF_SECONDS if interrupted else spec.retry.backoff_seconds
        due = (last.end_time or now) + timedelta(seconds=wait)
        if now >= due:
            d.new_attempt(name, now)
            d.move(StepState.RUNNING, None, f"Attempt {len(d.attempts)} started", now)
            action = Action.CREATE_POD
        else:
            requeue = (due - now).total_seconds()
    elif d.state == StepState.PENDING:
        if not cluster.ready:
            d.reason = StepStateChangeReason(message=f"Waiting for the cluster to be ready ({cluster.state})")
        elif not may_start:
            d.reason = StepStateChangeReason(message="Waiting for earlier steps (stepConcurrency)")
        else:
            d.new_attempt(name, now)
            d.move(StepState.RUNNING, None, "Attempt 1 started", now)
            action = Action.CREATE_POD

    return _decision(d, spec, previous, generation, now, start_timeout, action, requeue, revision)


def _decision(
    d: _Draft,
    spec: EMRStepSpec,
    previous: EMRStepStatus,
    generation: int,
    now: datetime,
    start_timeout: float,
    action: Action,
    requeue: float | None,
    revision: str | None = None,
) -> StepDecision:
    status = EMRStepStatus(
        state=d.state,
        state_change_reason=d.reason,
        attempts=d.attempts,
        attempt_count=len(d.attempts),
        failure_details=d.failure,
        conditions=_conditions(previous, d.state, d.reason, generation, now),
        timeline=d.timeline,
        observed_generation=generation,
        creation_revision=previous.creation_revision or revision,
    )
    deadline = _deadline_in(spec, d, now, start_timeout) if d.state == StepState.RUNNING else None
    requeue = min(filter(None, (requeue, deadline)), default=None)
    return StepDecision(status=status, action=action, events=tuple(d.events), requeue_after=requeue)


# --- the apiserver refuses a driver pod ---------------------------------------------------------------------

REFUSAL_RETRY_SECONDS = 10


@dataclass(frozen=True)
class PodRefusal:
    """The apiserver's answer to creating the driver pod: `transient` ones (a full ResourceQuota or one whose
    usage isn't known yet, a terminating namespace, throttling, a server error) are retried; the others are
    caused by the spec."""

    transient: bool
    message: str


def classify_refusal(status: int, message: str) -> PodRefusal:
    """`status` is the HTTP status of the refused create (403, 422, 429, 5xx, or 0 when unreachable),
    `message` the apiserver's own words (its Status message)."""
    lower = message.lower()
    transient = (
        status in (0, 404, 408, 429)
        or status >= 500
        or (status == 403 and ("quota" in lower or "is being terminated" in lower))
    )
    return PodRefusal(transient=transient, message=message)


def _refusal_hint(message: str) -> str:
    lower = message.lower()
    if "priorityclass" in lower:
        return "fix priorityClassName in spec.podOverrides or the cluster's spec.podOverrides"
    if "podsecurity" in lower:
        return "spec.podOverrides must keep the pod within the namespace's Pod Security level"
    if "limitrange" in lower or "per pod" in lower or "per container" in lower:
        return "spec.driver.resources must fit the namespace's LimitRange"
    return "see spec.driver and spec.podOverrides (the cluster's too)"


def refused(
    spec: EMRStepSpec,
    previous: EMRStepStatus,
    refusal: PodRefusal,
    generation: int,
    now: datetime,
    start_timeout: float = 600,
) -> StepDecision:
    """The status after the apiserver refused the last attempt's driver pod (`previous`: the status written
    just before): a transient refusal is explained and retried — activeDeadlineSeconds and the start timeout
    still count; a refusal caused by the spec fails the step with VALIDATION_ERROR naming what to fix."""
    d = _Draft(
        state=previous.state or StepState.RUNNING,
        reason=previous.state_change_reason,
        attempts=list(previous.attempts),
        timeline=previous.timeline or StepTimeline(created=now),
        failure=previous.failure_details,
    )
    number = d.attempts[-1].number if d.attempts else 1
    if refusal.transient:
        d.explain(
            f"Attempt {number}: the apiserver refused the driver pod, retrying in {REFUSAL_RETRY_SECONDS}s: "
            f"{refusal.message}",
            reason="DriverPodRefused",
        )
        return _decision(
            d, spec, previous, generation, now, start_timeout, Action.NONE, REFUSAL_RETRY_SECONDS
        )
    if d.attempts:
        d.close_attempt(AttemptOutcome.START_FAILED, now)
    message = f"The apiserver refused the driver pod: {refusal.message} ({_refusal_hint(refusal.message)})"
    d.failure = FailureDetails(reason=StepReason.VALIDATION_ERROR.value, message=message)
    d.move(StepState.FAILED, StepReason.VALIDATION_ERROR, message, now)
    return _decision(d, spec, previous, generation, now, start_timeout, Action.NONE, None)


def _cluster_gone(cluster: ClusterView, spec: EMRStepSpec) -> tuple[StepReason, str]:
    name = spec.cluster_ref.name
    if not cluster.exists:
        return StepReason.CLUSTER_NOT_FOUND, f"EMRCluster {name} does not exist in this namespace"
    if cluster.state == ClusterState.TERMINATING:
        return StepReason.CLUSTER_TERMINATING, f"EMRCluster {name} is terminating"
    return StepReason.CLUSTER_TERMINATED, f"EMRCluster {name} is terminated ({cluster.state})"


def _follow_attempt(
    d: _Draft,
    name: str,
    spec: EMRStepSpec,
    current: StepAttempt,
    pod: DriverView | None,
    cluster: ClusterView,
    now: datetime,
    start_timeout: float,
) -> tuple[Action, float | None]:
    """The last attempt is under way: create its pod, record its pod, explain a wait, or judge its end."""
    if pod is None:
        if current.pod_uid is None:  # recorded but never created (refused, or creation not seen yet)
            ended = _past_bounds(d, name, spec, current, None, cluster, now, start_timeout)
            return ended or (Action.CREATE_POD, None)
        return _interrupted(d, name, "the driver pod disappeared", now)
    if current.pod_uid is None:
        d.attempts[-1] = current = current.model_copy(update={"pod_uid": pod.uid})
    started = pod.started_at or (now if pod.phase != "Pending" else None)
    if started is not None:
        d.driver_started(started)
        current = d.attempts[-1]
    if pod.lost:
        return _interrupted(d, name, "the driver's node was lost", now)
    # A driver whose container exited while a sidecar keeps the pod running is done: record, then stop the pod
    # (a pod whose status is merely catching up with its one container is left alone: it is the record).
    cleanup = Action.DELETE_POD if pod.sidecars_running and not pod.deleting else Action.NONE
    if pod.outcome == "Succeeded":
        d.close_attempt(AttemptOutcome.COMPLETED, now, pod.exit_code or 0, pod.application_id)
        d.move(StepState.COMPLETED, None, "Driver exited 0", now)
        return cleanup, None
    if pod.outcome == "Failed":
        return _attempt_failed(d, name, spec, current, pod, cluster, now, cleanup)
    ended = _past_bounds(d, name, spec, current, pod, cluster, now, start_timeout)
    if ended:
        return ended
    if started is None and pod.not_started:
        d.explain(f"Attempt {current.number}: the driver has not started: {pod.not_started}")
    return Action.NONE, None


def _past_bounds(
    d: _Draft,
    name: str,
    spec: EMRStepSpec,
    current: StepAttempt,
    pod: DriverView | None,
    cluster: ClusterView,
    now: datetime,
    start_timeout: float,
) -> tuple[Action, float | None] | None:
    """Ends an attempt that ran past activeDeadlineSeconds, or whose driver (`pod`: None when it was never
    created) has not started within `start_timeout` seconds — both counted from the attempt's request.
    None while within both."""
    elapsed = (now - (requested(current) or now)).total_seconds()
    why = ""
    if current.start_time is None:
        why = (
            pod.not_started or "its pod is starting"
            if pod
            else (d.reason.message if d.reason and d.reason.message else "its pod was never created")
        )
    deadline = spec.active_deadline_seconds
    if deadline and elapsed >= deadline:
        d.close_attempt(AttemptOutcome.DEADLINE_EXCEEDED, now)
        message = f"Attempt {current.number} ran longer than activeDeadlineSeconds ({deadline}s)"
        if current.start_time is None:
            message += f"; its driver never started: {why}"
        d.failure = FailureDetails(
            reason=StepReason.DEADLINE_EXCEEDED.value,
            message=message,
            log_file=log_file(cluster, name, current.number),
        )
        d.move(StepState.FAILED, StepReason.DEADLINE_EXCEEDED, message, now)
        return (Action.DELETE_POD if pod else Action.NONE), None
    if current.start_time is None and elapsed >= start_timeout:
        return _start_failed(d, spec, current, f"not started after {start_timeout:.0f}s: {why}", now)
    return None


def _attempt_failed(
    d: _Draft,
    name: str,
    spec: EMRStepSpec,
    current: StepAttempt,
    pod: DriverView,
    cluster: ClusterView,
    now: datetime,
    cleanup: Action,
) -> tuple[Action, float | None]:
    """The driver exited non-zero: retry while attempts remain, else FAILED with the driver's own words."""
    d.close_attempt(AttemptOutcome.FAILED, now, pod.exit_code, pod.application_id)
    failed = _count(d.attempts, AttemptOutcome.FAILED, AttemptOutcome.START_FAILED)
    oom = pod.terminated_reason == "OOMKilled"
    code = StepReason.OUT_OF_MEMORY if oom else StepReason.STEP_FAILURE
    if oom:
        what = (
            f"the driver was OOM-killed (exit code {pod.exit_code}): it used more than its memory limit "
            f"{pod.memory_limit or '(none set)'}; raise spec.driver.resources.memory"
        )
    elif pod.exit_code is None and pod.not_started:
        what = f"the driver never ran: {pod.not_started}"
    else:
        what = f"exit code {pod.exit_code}"
    if failed < spec.retry.max_attempts:
        d.move(
            StepState.RUNNING,
            code,
            f"Attempt {current.number} failed ({what}); retrying in {spec.retry.backoff_seconds}s",
            now,
        )
        return cleanup, float(spec.retry.backoff_seconds)
    if oom or pod.exit_code is None:
        message = what[0].upper() + what[1:]
    else:
        message = pod.message or f"Driver exited with code {pod.exit_code}"
    d.failure = FailureDetails(
        reason=code.value, message=message, log_file=log_file(cluster, name, current.number)
    )
    summary = "The driver was OOM-killed" if oom else f"Driver exited with code {pod.exit_code}"
    d.move(StepState.FAILED, code, f"{summary} after {failed} attempt(s)", now)
    return cleanup, None


def _start_failed(
    d: _Draft, spec: EMRStepSpec, current: StepAttempt, why: str, now: datetime
) -> tuple[Action, float | None]:
    """The attempt's driver never started: the attempt ends START_FAILED (its pod, if any, is deleted) and
    counts against retry.maxAttempts like a failed one."""
    d.close_attempt(AttemptOutcome.START_FAILED, now)
    failed = _count(d.attempts, AttemptOutcome.FAILED, AttemptOutcome.START_FAILED)
    message = f"Attempt {current.number}: the driver {why}"
    if failed < spec.retry.max_attempts:
        d.move(
            StepState.RUNNING,
            StepReason.DRIVER_START_FAILURE,
            f"{message}; retrying in {spec.retry.backoff_seconds}s",
            now,
        )
        return Action.DELETE_POD, float(spec.retry.backoff_seconds)
    d.failure = FailureDetails(reason=StepReason.DRIVER_START_FAILURE.value, message=message)
    d.move(StepState.FAILED, StepReason.DRIVER_START_FAILURE, message, now)
    return Action.DELETE_POD, None


def _interrupted(d: _Draft, name: str, why: str, now: datetime) -> tuple[Action, float | None]:
    d.close_attempt(AttemptOutcome.INTERRUPTED, now)
    if _count(d.attempts, AttemptOutcome.INTERRUPTED) > MAX_INTERRUPTIONS:
        d.failure = FailureDetails(
            reason=StepReason.DRIVER_LOST.value, message=f"Driver lost too often: {why}"
        )
        d.move(
            StepState.FAILED, StepReason.DRIVER_LOST, f"Driver lost more than {MAX_INTERRUPTIONS} times", now
        )
        return Action.NONE, None
    d.move(StepState.INTERRUPTED, StepReason.DRIVER_LOST, f"Attempt interrupted: {why}; retrying", now)
    return Action.NONE, float(INTERRUPTION_BACKOFF_SECONDS)


def _deadline_in(spec: EMRStepSpec, d: _Draft, now: datetime, start_timeout: float) -> float | None:
    """Seconds until the running attempt's next bound: activeDeadlineSeconds, or the start timeout while its
    driver hasn't started."""
    if not d.attempts or d.attempts[-1].outcome is not None:
        return None
    last = d.attempts[-1]
    elapsed = (now - (requested(last) or now)).total_seconds()
    bounds = [spec.active_deadline_seconds or None, start_timeout if last.start_time is None else None]
    return min((max(0.0, b - elapsed) + 0.5 for b in bounds if b), default=None)


def _conditions(
    previous: EMRStepStatus,
    state: StepState,
    reason: StepStateChangeReason | None,
    generation: int,
    now: datetime,
) -> list[Any]:
    """Ready / Progressing / Reconciling / Stalled, for kstatus, Flux and Argo CD (docs/operator.md).

    A step that ended as asked (COMPLETED, or CANCELLED at user request) is Ready, so `kubectl wait
    --for=condition=Ready` returns and kstatus says Current; one that ended otherwise (FAILED, or CANCELLED
    by a failed step or a terminating cluster: its work did not happen) is Stalled, which kstatus reads as
    Failed.
    Reconciling mirrors Progressing because kstatus reads only Reconciling."""
    message = (reason.message or "") if reason else ""
    code = reason.code if reason else None
    final = state in STEP_FINAL_STATES
    cancelled_by_user = state == StepState.CANCELLED and code == StepReason.USER_REQUEST.value
    ready = state == StepState.COMPLETED or cancelled_by_user
    stalled = final and not ready
    if state == StepState.FAILED:
        stalled_reason = "Failed"
    elif code == StepReason.CANCELLED_BY_FAILED_STEP.value:
        stalled_reason = "CancelledByFailedStep"
    elif stalled:  # cancelled because the cluster is terminating or gone: CancelledByClusterTerminating, ...
        stalled_reason = "CancelledBy" + _camel(code) if code else "Cancelled"
    else:
        stalled_reason = "AsExpected"
    progress_reason = "Finished" if final else "Running"
    old = previous.conditions
    return [
        condition(old, "Ready", ready, _camel(state.value), message, generation, now),
        condition(old, "Progressing", not final, progress_reason, message, generation, now),
        condition(old, "Reconciling", not final, progress_reason, message, generation, now),
        condition(old, "Stalled", stalled, stalled_reason, message if stalled else "", generation, now),
    ]


def _camel(value: str) -> str:
    return value.title().replace("_", "")


# --- the cluster's step queue -------------------------------------------------------------------------------


def step_order_key(step: Mapping[str, Any]) -> tuple[str, int, int, str]:
    """Submission order: creationTimestamp; inline steps then carry their position; steps created within the
    same second go in the order the apiserver stored them: the resourceVersion the operator first saw
    (status.creationRevision; for a step not recorded yet, its current one); the name last."""
    meta = step["metadata"]
    index = int((meta.get("annotations") or {}).get(STEP_INDEX_ANNOTATION, "0"))
    revision = str((step.get("status") or {}).get("creationRevision") or meta.get("resourceVersion") or "")
    # resourceVersions are etcd revisions in every apiserver; one that isn't a number sorts after the rest.
    stored = int(revision) if revision.isdigit() else 2**63
    return (meta.get("creationTimestamp", ""), index, stored, meta["name"])


def startable(steps: Sequence[Mapping[str, Any]], concurrency: int) -> set[str]:
    """Names of the PENDING steps that may start now: the oldest ones, up to stepConcurrency running."""

    def state(s: Mapping[str, Any]) -> str:
        return (s.get("status") or {}).get("state") or StepState.PENDING.value

    active = sum(1 for s in steps if state(s) in {st.value for st in SLOT_STATES})
    pending = sorted(
        (s for s in steps if state(s) == StepState.PENDING.value and not (s.get("spec") or {}).get("cancel")),
        key=step_order_key,
    )
    return {s["metadata"]["name"] for s in pending[: max(0, concurrency - active)]}


def cancelled_by(step: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> str | None:
    """The failed CANCEL_AND_WAIT step that cancels `step`: one that failed while `step` was pending.

    Times have one-second precision: a step created in the second of the failure counts as sent after it."""
    created = step["metadata"].get("creationTimestamp", "")
    for other in steps:
        status = other.get("status") or {}
        if (
            status.get("state") == StepState.FAILED.value
            and (other.get("spec") or {}).get("actionOnFailure") == ActionOnFailure.CANCEL_AND_WAIT.value
            and created < ((status.get("timeline") or {}).get("ended") or "")
        ):
            return str(other["metadata"]["name"])
    return None
