"""What `kubectl emr` prints, as pure functions of the objects read: kubectl-style tables, ages, describes.

Objects are the API's JSON (dicts), as `kubectl get -o json` shows them. Colours are applied only when the
caller says so (a terminal, NO_COLOR unset): piped output is plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kemr.steptypes import stored_body

Obj = Mapping[str, Any]
Paint = Callable[[str], str]

GREEN, YELLOW, RED = "32", "33", "31"
# Colour of each state: green = in service or done, yellow = under way, red = needs a human.
STATE_COLOURS = {
    "WAITING": GREEN,
    "RUNNING": GREEN,
    "COMPLETED": GREEN,
    "STARTING": YELLOW,
    "BOOTSTRAPPING": YELLOW,
    "TERMINATING": YELLOW,
    "PENDING": YELLOW,
    "CANCEL_PENDING": YELLOW,
    "INTERRUPTED": YELLOW,
    "TERMINATED_WITH_ERRORS": RED,
    "FAILED": RED,
}
NONE = "<none>"


def plain(text: str) -> str:
    return text


def colour_state(text: str) -> str:
    code = STATE_COLOURS.get(text.strip())
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def human_age(seconds: float) -> str:
    """kubectl's AGE (k8s.io/apimachinery duration.HumanDuration): 45s, 3m20s, 15m, 5h3m, 2d4h, 400d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(obj: Obj, now: datetime) -> str:
    created = parse_time(obj.get("metadata", {}).get("creationTimestamp"))
    return human_age((now - created).total_seconds()) if created else NONE


def render_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], paint: Mapping[int, Paint] | None = None
) -> str:
    """kubectl's table: upper-case headers, columns three spaces apart, padded on the plain text (so colour
    codes don't shift columns). `paint` colours cells of the given column indexes."""
    rows = [list(r) for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    paint = paint or {}
    lines = []
    for index, row in enumerate([list(headers), *rows]):
        cells = []
        for col, cell in enumerate(row):
            padded = cell if col == len(row) - 1 else cell.ljust(widths[col])
            cells.append(paint[col](padded) if index and col in paint else padded)
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def cluster_table(clusters: Sequence[Obj], now: datetime, all_namespaces: bool, paint: Paint = plain) -> str:
    headers = ["NAME", "STATE", "READY GROUPS", "STEPS", "AGE"]
    rows = []
    for c in clusters:
        status = _status(c)
        steps = status.get("steps") or {}
        running, pending = steps.get("running", 0), steps.get("pending", 0)
        done = steps.get("completed", 0) + steps.get("failed", 0) + steps.get("cancelled", 0)
        row = [
            c["metadata"]["name"],
            status.get("state") or NONE,
            status.get("readyGroups") or NONE,
            f"{running} running, {pending} pending, {done} done",
            age(c, now),
        ]
        rows.append([c["metadata"]["namespace"], *row] if all_namespaces else row)
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
    return render_table(headers, rows, {headers.index("STATE"): paint})


def step_table(steps: Sequence[Obj], now: datetime, all_namespaces: bool, paint: Paint = plain) -> str:
    headers = ["NAME", "CLUSTER", "STATE", "ATTEMPTS", "REASON", "AGE"]
    rows = []
    for s in steps:
        status = _status(s)
        reason = status.get("stateChangeReason") or {}
        row = [
            s["metadata"]["name"],
            s.get("spec", {}).get("clusterRef", {}).get("name", NONE),
            status.get("state") or "PENDING",
            str(status.get("attemptCount") or len(status.get("attempts") or [])),
            reason.get("code") or NONE,
            age(s, now),
        ]
        rows.append([s["metadata"]["namespace"], *row] if all_namespaces else row)
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
    return render_table(headers, rows, {headers.index("STATE"): paint})


@dataclass(frozen=True, order=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str = ""


def _status_times(obj: Obj, labels: Mapping[str, str]) -> list[TimelineEntry]:
    timeline = _status(obj).get("timeline") or {}
    entries = []
    for key, label in labels.items():
        at = parse_time(timeline.get(key))
        if at:
            entries.append(TimelineEntry(at, label))
    return entries


def event_time(event: Obj) -> datetime | None:
    for key in ("eventTime", "lastTimestamp", "firstTimestamp"):
        at = parse_time(event.get(key))
        if at:
            return at
    return parse_time(event.get("metadata", {}).get("creationTimestamp"))


def timeline(obj: Obj, events: Sequence[Obj], labels: Mapping[str, str]) -> list[TimelineEntry]:
    """The status timestamps and the object's Events, oldest first."""
    entries = _status_times(obj, labels)
    for e in events:
        at = event_time(e)
        if at:
            kind = "" if e.get("type") == "Normal" else f"{e.get('type')} "
            entries.append(TimelineEntry(at, f"{kind}{e.get('reason', '')}", e.get("message", "")))
    return sorted(entries)


def _reason_text(reason: Mapping[str, Any] | None) -> str:
    if not reason:
        return NONE
    code, message = reason.get("code"), reason.get("message")
    return f"{code}: {message}" if code and message else str(code or message or NONE)


def _field(label: str, value: Any) -> str:
    return f"{label + ':':<14}{value}"


def _indent(text: str, by: str = "  ") -> list[str]:
    return [by + line for line in text.splitlines()]


def _conditions_table(obj: Obj, now: datetime) -> list[str]:
    conditions = _status(obj).get("conditions") or []
    if not conditions:
        return [_field("Conditions", NONE)]
    rows = []
    for c in conditions:
        since = parse_time(c.get("lastTransitionTime"))
        rows.append(
            [
                c.get("type", ""),
                c.get("status", ""),
                c.get("reason", ""),
                human_age((now - since).total_seconds()) if since else NONE,
                c.get("message") or "",
            ]
        )
    return ["Conditions:", *_indent(render_table(["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], rows))]


def _timeline_lines(entries: Sequence[TimelineEntry]) -> list[str]:
    if not entries:
        return [_field("Timeline", NONE)]
    lines = ["Timeline:"]
    for e in entries:
        at = e.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"  {at}  {e.what}" + (f": {e.detail}" if e.detail else ""))
    return lines


def failure_text(step: Obj) -> str | None:
    details = _status(step).get("failureDetails")
    if not details:
        return None
    text = details.get("reason") or "FAILED"
    if details.get("message"):
        text += f": {details['message']}"
    if details.get("logFile"):
        text += f" (log: {details['logFile']})"
    return str(text)


CLUSTER_TIMES = {"created": "Created", "ready": "Ready", "ended": "Ended"}
STEP_TIMES = {"created": "Created", "started": "Started", "ended": "Ended"}


def _catalog_text(spec: Mapping[str, Any]) -> str:
    """Where the cluster's Hive tables are defined: its DataCatalog, its own metastore, or nowhere."""
    catalog = (spec.get("catalog") or {}).get("name")
    if catalog:
        return f"DataCatalog {catalog} (kubectl get datacatalog {catalog})"
    if "Hive" in (spec.get("applications") or []):
        return "the cluster's own metastore (its tables end with it)"
    return NONE


def describe_cluster(
    cluster: Obj, steps: Sequence[Obj], events: Sequence[Obj], now: datetime, paint: Paint = plain
) -> str:
    meta, spec, status = cluster["metadata"], cluster.get("spec") or {}, _status(cluster)
    lines = [
        _field("Name", meta["name"]),
        _field("Namespace", meta.get("namespace", "")),
        _field("State", paint(status.get("state") or NONE)),
        _field("Reason", _reason_text(status.get("stateChangeReason"))),
        _field("Release", spec.get("release", NONE)),
        _field("Applications", ", ".join(spec.get("applications") or []) or NONE),
        _field("Catalog", _catalog_text(spec)),
        _field("Protected", "yes" if spec.get("terminationProtected") else "no"),
        _field("Age", age(cluster, now)),
    ]
    endpoints = status.get("endpoints") or {}
    if endpoints:
        lines.append("Endpoints:")
        lines += [f"  {key}: {value}" for key, value in endpoints.items()]
    groups = status.get("groups") or []
    if groups:
        rows = [
            [
                g["name"],
                g.get("role", ""),
                g.get("capacityType", ""),
                str(g.get("ready", 0)),
                str(g.get("desired", 0)),
            ]
            for g in groups
        ]
        lines += ["Groups:", *_indent(render_table(["NAME", "ROLE", "CAPACITY", "READY", "DESIRED"], rows))]
    lines += _conditions_table(cluster, now)
    if steps:
        lines += ["Steps:", *_indent(step_table(steps, now, all_namespaces=False, paint=paint))]
        for s in steps:
            failure = failure_text(s)
            if failure:
                lines.append(f"  {s['metadata']['name']} failed: {failure}")
    else:
        lines.append(_field("Steps", NONE))
    lines += _timeline_lines(timeline(cluster, events, CLUSTER_TIMES))
    return "\n".join(lines)


def describe_step(step: Obj, events: Sequence[Obj], now: datetime, paint: Paint = plain) -> str:
    meta, spec, status = step["metadata"], step.get("spec") or {}, _status(step)
    found = stored_body(spec)
    kind = found[0].field if found else NONE
    lines = [
        _field("Name", meta["name"]),
        _field("Namespace", meta.get("namespace", "")),
        _field("Cluster", spec.get("clusterRef", {}).get("name", NONE)),
        _field("Type", kind),
        _field("On failure", spec.get("actionOnFailure", "CONTINUE")),
        _field("State", paint(status.get("state") or "PENDING")),
        _field("Reason", _reason_text(status.get("stateChangeReason"))),
        _field("Age", age(step, now)),
    ]
    failure = failure_text(step)
    if failure:
        lines.append(_field("Failure", failure))
    attempts = status.get("attempts") or []
    if attempts:
        rows = [
            [
                str(a.get("number", "")),
                a.get("driverPod", ""),
                a.get("outcome") or "RUNNING",
                NONE if a.get("exitCode") is None else str(a["exitCode"]),
                a.get("startTime") or NONE,
                a.get("endTime") or NONE,
                a.get("applicationId") or NONE,
            ]
            for a in attempts
        ]
        headers = ["ATTEMPT", "DRIVER POD", "OUTCOME", "EXIT CODE", "STARTED", "ENDED", "SPARK APPLICATION"]
        lines += ["Attempts:", *_indent(render_table(headers, rows))]
        if any(a.get("applicationId") for a in attempts) or not attempts[-1].get("outcome"):
            lines.append(
                _field("Spark UI", f"kubectl emr ui emrstep/{meta['name']} -n {meta.get('namespace', '')}")
            )
    else:
        lines.append(_field("Attempts", NONE))
    lines += _conditions_table(step, now)
    lines += _timeline_lines(timeline(step, events, STEP_TIMES))
    return "\n".join(lines)
