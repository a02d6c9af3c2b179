"""The EMRStep `kubectl emr add-step` creates, from its options (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kemr.api.constants import API_VERSION, STEP_KIND
from kemr.steptypes import ADD_STEP_TYPES, StepOptionError

__all__ = ["STEP_TYPES", "StepOptionError", "StepOptions", "build_step", "parse_annotations"]

# EMR's step types, as `aws emr add-steps Type=...` names them (each step type's add_step_types).
STEP_TYPES = tuple(ADD_STEP_TYPES)


@dataclass(frozen=True)
class StepOptions:
    """`kubectl emr add-step`'s options: the cluster, the step's name, its type (one of STEP_TYPES) and what
    that type reads of `file`, `main_class`, `query` and `args` (the arguments after `--`)."""

    cluster: str
    name: str
    type: str
    file: str | None = None
    main_class: str | None = None
    query: str | None = None
    args: Sequence[str] = ()
    action_on_failure: str | None = None
    max_attempts: int | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


def _body(o: StepOptions) -> dict[str, Any]:
    step_type = ADD_STEP_TYPES.get(o.type)
    if step_type is None:
        raise StepOptionError(f"--type must be one of {', '.join(STEP_TYPES)}, not {o.type!r}")
    return {step_type.field: step_type.add_step_body(o)}


def build_step(o: StepOptions) -> dict[str, Any]:
    """The EMRStep manifest; the API server validates the rest (names, lengths, the CRD's rules)."""
    spec: dict[str, Any] = {"clusterRef": {"name": o.cluster}, **_body(o)}
    if o.action_on_failure:
        spec["actionOnFailure"] = o.action_on_failure
    if o.max_attempts:
        spec["retry"] = {"maxAttempts": o.max_attempts}
    if o.annotations:
        spec["podOverrides"] = {"metadata": {"annotations": dict(o.annotations)}}
    return {"apiVersion": API_VERSION, "kind": STEP_KIND, "metadata": {"name": o.name}, "spec": spec}


def parse_annotations(values: Sequence[str]) -> dict[str, str]:
    result = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise StepOptionError(f"--annotation takes KEY=VALUE, not {value!r}")
        result[key] = val
    return result
