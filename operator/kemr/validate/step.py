"""Checks of a step spec the CRD schema can't express."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from kemr.api.common import Resources
from kemr.api.quantity import SPARK_MIN_HEAP_MIB, driver_heap_mib, memory_mib, min_driver_memory_mib
from kemr.api.step import StepBody
from kemr.steptypes import bodies
from kemr.validate.config import check_properties
from kemr.validate.issues import ValidationIssue, key_path
from kemr.validate.owned import STEP_CONF_OWNED

# Step conf that needs something on the cluster's workers that kemr doesn't run there: key → value → the fix.
NEEDS_WORKER_SUPPORT = {
    "spark.shuffle.service.enabled": (
        "true",
        "kemr's Spark workers run no external shuffle service; remove it (for dynamic allocation kemr "
        "relies on spark.dynamicAllocation.shuffleTracking.enabled=true, Spark's default since 3.4, and on "
        "decommissioning to keep shuffle data)",
    ),
}


def validate_step(
    spec: StepBody, field: str = "spec", applications: Collection[str] | None = None
) -> list[ValidationIssue]:
    """Problems of an EMRStep spec, or of an inline step (`field` is then `spec.steps[<name>]`).

    What each step type's declarations imply (kemr.steptypes.StepType): its Spark properties hold no key the
    operator owns and none that needs what kemr's workers don't run; a Spark program's driver leaves Spark's
    minimum heap. With `applications` (the values of the cluster's spec.applications), a type that needs an
    application (`StepType.needs_application`, e.g. `hive` needs Hive) on a cluster without it is a problem.
    Pure: no I/O. An empty list means the step is valid as far as its own spec and `applications` go (whether
    its cluster exists and accepts it is for the controller to find out).
    """
    issues: list[ValidationIssue] = []
    for step_type, body in bodies(spec):
        path = f"{field}.{step_type.field}"
        if step_type.conf_field is not None:
            conf = step_type.spark_conf(body.to_dict())
            conf_path = f"{path}.{step_type.conf_field}"
            issues.extend(check_properties(conf, STEP_CONF_OWNED, conf_path, line_format=False))
            issues.extend(_unsupported_conf(conf, conf_path))
        if step_type.spark_program is not None:
            issues.extend(_driver_memory(step_type.driver_resources(body), f"{path}.driver.resources.memory"))
        needed = step_type.needs_application
        if applications is not None and needed and needed not in applications:
            issues.append(
                ValidationIssue(
                    path,
                    f"a {step_type.field} step needs {needed} on its cluster, which runs only"
                    f" {', '.join(applications)}: add {needed} to the cluster's spec.applications (a new"
                    " cluster: they are immutable), or run the step elsewhere",
                )
            )
    return issues


def _driver_memory(resources: Resources, field: str) -> list[ValidationIssue]:
    """A driver container too small for Spark's minimum heap would fail at start with a JVM error."""
    memory = memory_mib(resources.memory)
    heap = driver_heap_mib(memory)
    if heap >= SPARK_MIN_HEAP_MIB:
        return []
    return [
        ValidationIssue(
            field,
            f"{resources.memory} leaves the driver JVM a heap of {max(heap, 0)}Mi (the container less "
            f"max(384Mi, 20%) for Spark's memoryOverhead), below Spark's minimum of {SPARK_MIN_HEAP_MIB}Mi; "
            f"set at least {min_driver_memory_mib()}Mi (1Gi)",
        )
    ]


def _unsupported_conf(conf: Mapping[str, str], field: str) -> list[ValidationIssue]:
    return [
        ValidationIssue(key_path(field, key), fix)
        for key, (value, fix) in NEEDS_WORKER_SUPPORT.items()
        if str(conf.get(key, "")).strip().lower() == value
    ]
