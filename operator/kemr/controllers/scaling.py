"""Managed scaling's decisions exported as metrics (the decisions are kemr.status.plan's and
kemr.status.scaling's)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from kemr.metrics import SCALING_DECISIONS, SPOT_FALLBACK_PODS, TASK_DEMAND_CORES, TASK_DESIRED
from kemr.status import scaling as s


def record(namespace: str, cluster: str, result: s.ScalingPlan, demand: s.Resources) -> None:
    TASK_DEMAND_CORES.labels(namespace, cluster).set(demand.cores)
    for name, group in result.groups.items():
        TASK_DESIRED.labels(namespace, cluster, name).set(group.state.desired)
        SPOT_FALLBACK_PODS.labels(namespace, cluster, name).set(group.on_demand_fallback)
    for event in result.events:
        SCALING_DECISIONS.labels(namespace, event.reason).inc()


def forget_metrics(namespace: str, cluster: str, groups: Sequence[str]) -> None:
    for collector, labels in (
        (TASK_DEMAND_CORES, [(namespace, cluster)]),
        (TASK_DESIRED, [(namespace, cluster, g) for g in groups]),
        (SPOT_FALLBACK_PODS, [(namespace, cluster, g) for g in groups]),
    ):
        for values in labels:
            with contextlib.suppress(KeyError):
                collector.remove(*values)
