"""metav1.Condition bookkeeping: a condition's lastTransitionTime moves only when its status changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kemr.api import Condition, ConditionStatus


def condition(
    previous: Sequence[Condition],
    type_: str,
    true: bool,
    reason: str,
    message: str,
    generation: int,
    now: datetime,
) -> Condition:
    status = ConditionStatus.TRUE if true else ConditionStatus.FALSE
    old = next((c for c in previous if c.type == type_), None)
    changed = old is None or old.status != status
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        last_transition_time=now if changed or old is None else old.last_transition_time,
    )


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


SYNCED = "Synced"


def synced(
    previous: Sequence[Condition], error: tuple[str, str] | None, generation: int, now: datetime
) -> Condition:
    """`Synced` (as Crossplane's): True when the last reconcile wrote every child it meant to; else False with
    the apiserver's reason (Forbidden, Invalid, ...) and message, naming the child. `error`: (reason,
    message) of the failed write, None when there was none."""
    if error is None:
        return condition(previous, SYNCED, True, "ReconcileSuccess", "", generation, now)
    reason, message = error
    return condition(previous, SYNCED, False, reason or "ReconcileError", message, generation, now)
