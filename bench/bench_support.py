"""What the benchmarks share: JSON objects, percentiles, watches noting when objects were first seen."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes import client, watch


def as_dict(value: object) -> dict[str, Any]:
    """The client types custom objects as `object`; they are JSON objects."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class PodRecorder(threading.Thread):
    """When each pod matching a label selector was first seen on a watch, by `key(pod)`."""

    def __init__(
        self,
        core: client.CoreV1Api,
        namespace: str,
        label_selector: str,
        key: Callable[[Any], str],
    ) -> None:
        super().__init__(daemon=True)
        self.core, self.namespace, self.label_selector, self.key = core, namespace, label_selector, key
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            stream = watch.Watch().stream(
                self.core.list_namespaced_pod,
                self.namespace,
                label_selector=self.label_selector,
                timeout_seconds=5,
            )
            for event in stream:
                self.seen.setdefault(self.key(event["object"]), time.monotonic())

    def first_after(self, since: float) -> float | None:
        times = [t for t in self.seen.values() if t >= since]
        return min(times) if times else None


def watch_objects(
    list_fn: Callable[..., Any],
    on_event: Callable[[str, dict[str, Any]], None],
    stop: threading.Event,
    errors: list[str],
    what: str,
) -> None:
    """Calls `on_event(type, object)` for every object `list_fn` lists (as ADDED), then for every watch event
    (objects as JSON, not the client's models: cheap enough for thousands of pods). It lists for a
    resourceVersion and watches from it, so no event is lost between watch requests; after an error (counted
    in `errors`) it lists again: objects changed in between come late, not never."""
    rv = None
    while not stop.is_set():
        try:
            if rv is None:
                listed = json.loads(list_fn(_preload_content=False).data)
                for item in listed["items"]:
                    on_event("ADDED", item)
                rv = listed["metadata"]["resourceVersion"]
            for ev in watch.Watch().stream(
                list_fn, resource_version=rv, timeout_seconds=5, deserialize=False
            ):
                if ev["type"] == "ERROR":
                    raise RuntimeError(ev["object"].get("message"))
                on_event(ev["type"], ev["object"])
                rv = ev["object"]["metadata"]["resourceVersion"]
        except Exception as err:
            errors.append(f"{what}: {str(err).splitlines()[0][:120]}")
            rv = None
            stop.wait(1.0)


def metric_sum(text: str, name: str, by: str) -> dict[str, float]:
    """A Prometheus counter's samples summed by one label."""
    out: dict[str, float] = {}
    for m in re.finditer(rf"^{name}\{{(.*)\}} (\S+)$", text, re.MULTILINE):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m[1]))
        key = labels.get(by, "").upper()
        out[key] = out.get(key, 0.0) + float(m[2])
    return out


@contextmanager
def py_spy(pid: int, out: Path) -> Iterator[list[str]]:
    """Samples process `pid` with py-spy (100 Hz, only the thread holding the GIL: the process's own work)
    through the block, into `out` in py-spy's raw format (a collapsed stack and its count per line, as flame
    graph tools read it; bench/profile_top.py prints its top functions). Yields a list that holds py-spy's
    error afterwards if it failed."""
    spy = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
    command = [str(spy), "record", "-p", str(pid), "-r", "100", "--gil", "--format", "raw", "-o", str(out)]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    try:
        yield errors
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        _, err = recorder.communicate(timeout=60)
        if recorder.returncode not in (0, -signal.SIGINT) or not out.exists():
            errors.append(err.strip()[-300:])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process so far (/proc/PID/stat utime, stime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on: the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
