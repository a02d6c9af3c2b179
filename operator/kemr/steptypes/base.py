"""What a step type declares (`StepType`), what `kubectl emr add-step` hands it, and the driver options the
Spark types share. Pure; imports only kemr.api."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from kemr.api.base import KemrModel
from kemr.api.common import Resources
from kemr.api.quantity import cpu_millis, driver_heap_mib, memory_mib
from kemr.api.step import StepBody

BodyT = TypeVar("BodyT", bound=KemrModel)


class AddStepOptions(Protocol):
    """What `kubectl emr add-step` says of a step's body, as `aws emr add-steps` does: EMR's step type name
    (`--type`), the application or SQL file (`--file`), the main class of a JAR (`--main-class`), SQL
    statements (`--query`) and the arguments after `--`."""

    @property
    def type(self) -> str: ...
    @property
    def file(self) -> str | None: ...
    @property
    def main_class(self) -> str | None: ...
    @property
    def query(self) -> str | None: ...
    @property
    def args(self) -> Sequence[str]: ...


class StepOptionError(ValueError):
    """Options that don't make a step; the message names the option and the fix."""


@dataclass(frozen=True)
class StepType(Generic[BodyT]):
    """One type of step: the body an EMRStep (or an inline step) sets in `spec.<field>`, exactly one per step,
    and what each stage of the operator needs to know of it. Registered once, in kemr.steptypes.STEP_TYPES.

    Validation (kemr.validate.step) follows from the declarations, under `spec.<field>`: the Spark
    properties under `conf_field` may not set keys the operator owns nor need what kemr's workers don't run;
    the driver of a `spark_program` gets its JVM heap from `driver.resources.memory` (`spark_driver_conf`),
    which must leave Spark's minimum heap. Checks of the body alone belong in the model's CEL rules
    (kemr.api.step).
    """

    field: str
    """The StepBody field holding the body, as the CRD names it (camelCase): `spark`, `sparkSql`, `command`.
    Listed in kemr.api.step.STEP_TYPE_FIELDS, in the same order as the registry."""
    body: Callable[[StepBody], BodyT | None]
    """The step's body of this type, from the parsed spec; None when the step is of another type."""
    driver_resources: Callable[[BodyT], Resources]
    """CPU and memory of the driver pod (the body's `driver.resources`)."""
    spark_program: str | None
    """The launcher in $SPARK_HOME/bin the driver runs through submit.sh, in client mode against the cluster's
    master, e.g. `spark-submit` or `spark-sql` (submit.sh accepts the registered ones, SPARK_PROGRAMS). None:
    `driver_args` is the driver's whole command, run as given."""
    driver_args: Callable[[BodyT], list[str]]
    """The program's arguments after kemr's client-mode options (the whole command when `spark_program` is
    None), exactly as the program must receive them: the builders escape them for the kubelet."""
    add_step_types: tuple[str, ...]
    """The names `kubectl emr add-step --type` accepts for it, as `aws emr add-steps Type=...` names it (lower
    case)."""
    add_step_body: Callable[[AddStepOptions], dict[str, Any]]
    """The body add-step's options make, as stored (camelCase keys). Raises StepOptionError naming the option
    and the fix."""
    needs_application: str | None = None
    """The application (kemr.api.cluster.Application's value, e.g. `Hive`) the cluster must run for steps of
    this type; a step on a cluster without it fails validation (VALIDATION_ERROR) naming the field and the
    fix. None: Spark, which every cluster runs, is enough."""
    driver_application: str | None = None
    """The application (kemr.api.cluster.Application's value) whose image runs the driver, e.g. `Trino`;
    None: Spark's (the data-plane image)."""
    conf_field: str | None = None
    """The body's field holding the application's Spark properties (`conf`, as `--conf`); None: the type
    sets none, and its steps are counted at one worker's worth of executors (kemr.status.scaling)."""

    def spark_conf(self, body: Mapping[str, Any]) -> dict[str, str]:
        """The Spark properties the step's application runs with, key → value as strings, from its body as
        stored (camelCase keys, e.g. `step["spec"]["spark"]`); {} when the type has none or sets none."""
        conf = (body.get(self.conf_field) or {}) if self.conf_field else {}
        return {str(key): str(value) for key, value in conf.items()}


def spark_driver_conf(resources: Resources) -> list[str]:
    """`--conf` options sizing a Spark driver's JVM to its container (`resources`: the driver pod's CPU and
    memory): spark.driver.memory in MiB (what the JVM needs beside its heap is left free: a 1Gi driver gets
    640m and is not OOM-killed; never below 256m), spark.driver.cores in whole cores (at least 1), and a
    driver that exits instead of hanging when out of heap."""
    # validate_step refuses a driver too small for Spark's minimum heap.
    heap_mib = max(256, driver_heap_mib(memory_mib(resources.memory)))
    cores = max(1, cpu_millis(resources.cpu) // 1000)
    return [
        "--conf",
        f"spark.driver.memory={heap_mib}m",
        "--conf",
        f"spark.driver.cores={cores}",
        # A driver out of heap exits (and the step fails with the JVM's words) instead of hanging with a dead
        # thread; the default options Spark prepends to the user's spark.driver.extraJavaOptions.
        "--conf",
        "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError",
    ]
