"""What the benchmarks share: JSON objects, percentiles, a pod watch noting when each pod was first seen."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
