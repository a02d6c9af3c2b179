"""The step types, registered in one table: what each one (`spark`, `sparkSql`, `command`, `hive`,
`trino`) is, declared in its own module as a `StepType`, and looked up here by the stages that depend on
it (validate, builders, status, kubectl). Adding a type: docs/operator.md, "Adding a step type".

Pure; sits below kemr.validate (which validates inline steps too) and imports only kemr.api.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kemr.api.step import StepBody
from kemr.steptypes.base import AddStepOptions, StepOptionError, StepType
from kemr.steptypes.command import COMMAND
from kemr.steptypes.hive import HIVE
from kemr.steptypes.spark import SPARK
from kemr.steptypes.spark_sql import SPARK_SQL
from kemr.steptypes.trino import TRINO

STEP_TYPES: tuple[StepType[Any], ...] = (SPARK, SPARK_SQL, COMMAND, HIVE, TRINO)
"""Every step type, in kemr.api.step.STEP_TYPE_FIELDS' order: a step set to more than one (which the CRD
refuses) is taken as the first."""

ADD_STEP_TYPES: dict[str, StepType[Any]] = {name: t for t in STEP_TYPES for name in t.add_step_types}
"""`kubectl emr add-step --type` name (EMR's, e.g. `pyspark`) → its step type, in registry order."""

SPARK_PROGRAMS: tuple[str, ...] = tuple(dict.fromkeys(t.spark_program for t in STEP_TYPES if t.spark_program))
"""The Spark launchers the step types run (`spark-submit`, `spark-sql`), once each: what submit.sh accepts."""


def bodies(spec: StepBody) -> list[tuple[StepType[Any], Any]]:
    """Every step type `spec` sets, with its body (a SparkStep, SparkSqlStep, CommandStep...), in registry
    order: one for a spec the CRD admitted, none or several for one built otherwise."""
    found = ((step_type, step_type.body(spec)) for step_type in STEP_TYPES)
    return [(step_type, body) for step_type, body in found if body is not None]


def step_body(spec: StepBody) -> tuple[StepType[Any], Any] | None:
    """The step's type and body (the first set, see `bodies`); None when it sets none."""
    found = bodies(spec)
    return found[0] if found else None


def stored_body(spec: Mapping[str, Any]) -> tuple[StepType[Any], Mapping[str, Any]] | None:
    """The step's type and body from its spec as stored (camelCase keys, as the watch cache holds it): the
    first type whose field is set and not empty; None when none is."""
    for step_type in STEP_TYPES:
        body = spec.get(step_type.field)
        if body:
            return step_type, body
    return None


__all__ = [
    "ADD_STEP_TYPES",
    "SPARK_PROGRAMS",
    "STEP_TYPES",
    "AddStepOptions",
    "StepOptionError",
    "StepType",
    "bodies",
    "step_body",
    "stored_body",
]
