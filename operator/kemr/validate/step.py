"""Checks of a step spec the CRD schema can't express."""

from __future__ import annotations

from kemr.api.step import StepBody
from kemr.validate.config import check_properties
from kemr.validate.issues import ValidationIssue
from kemr.validate.owned import STEP_CONF_OWNED


def validate_step(spec: StepBody, field: str = "spec") -> list[ValidationIssue]:
    """Problems of an EMRStep spec, or of an inline step (`field` is then `spec.steps[<name>]`).

    Pure: no I/O. An empty list means the step is valid as far as its own spec goes (whether its cluster
    exists and accepts it is for the controller to find out).
    """
    issues: list[ValidationIssue] = []
    if spec.spark is not None:
        issues.extend(
            check_properties(spec.spark.conf, STEP_CONF_OWNED, f"{field}.spark.conf", line_format=False)
        )
    return issues
