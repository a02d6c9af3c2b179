"""EMRStep: one unit of work (a Spark application, a Spark SQL query, a command, HiveQL) run on an
EMRCluster."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from kemr.api.base import KemrModel, cel, cel_rules, validations
from kemr.api.common import (
    MAX_ARG_LENGTH,
    MAX_ARGS,
    MAX_PROPERTIES,
    MAX_PROPERTY_VALUE_LENGTH,
    MAX_URI_LENGTH,
    Conditions,
    PodOverrides,
    Resources,
)
from kemr.api.constants import DNS_1035_LABEL_PATTERN, DNS_1123_LABEL_PATTERN, MAX_INLINE_STEP_NAME_LENGTH

# Where a step's files may live: S3 (s3:// is read through S3A), the cluster's HDFS, a path in the image.
APPLICATION_FILE_PATTERN = r"^(s3a?://[^/\s]+/\S+|hdfs://\S+|(file|local):/\S+|/\S+)$"
MAX_SQL_QUERY_LENGTH = 65536
# A Hive variable's name: what `${NAME}` substitution matches.
HIVE_VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*$"
# An S3 object (a `trino` step's file or output): the step's driver reads and writes S3 itself, not through
# Hadoop's FileSystem.
S3_OBJECT_PATTERN = r"^s3a?://[^/\s?#]+/[^\s?#]*[^/\s?#]$"
# A Trino identifier (catalog, schema, session property name), unquoted.
TRINO_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*$"

ApplicationFile = Annotated[str, Field(max_length=MAX_URI_LENGTH, pattern=APPLICATION_FILE_PATTERN)]
Arg = Annotated[str, Field(max_length=MAX_ARG_LENGTH)]


class ActionOnFailure(StrEnum):
    """What happens to the cluster when the step fails, as in EMR."""

    CONTINUE = "CONTINUE"
    CANCEL_AND_WAIT = "CANCEL_AND_WAIT"
    TERMINATE_CLUSTER = "TERMINATE_CLUSTER"


class DriverSpec(KemrModel):
    """The Spark driver pod of the step (client mode, on on-demand capacity)."""

    resources: Resources = Field(default_factory=Resources)
    """CPU and memory of the driver pod; spark.driver.memory and spark.driver.cores follow from them."""


class SparkStep(KemrModel):
    """A Spark application, as `spark-submit` runs it."""

    model_config = cel_rules(
        cel(
            "!has(self.mainClass) || !self.mainApplicationFile.endsWith('.py')",
            "mainClass is for JAR applications: remove it when mainApplicationFile is a Python file",
            field_path=".mainClass",
        ),
        cel(
            "!has(self.pyFiles) || size(self.pyFiles) == 0 || self.mainApplicationFile.endsWith('.py')",
            "pyFiles is for Python applications: mainApplicationFile must end in .py",
            field_path=".pyFiles",
        ),
    )

    main_application_file: ApplicationFile
    """The application: a .py file or a JAR on s3a:// (or s3://), hdfs://, or an absolute path in the
    image."""
    main_class: str | None = Field(
        default=None, max_length=256, pattern=r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$"
    )
    """Main class of a JAR application; read from the JAR's manifest when unset."""
    args: list[Arg] = Field(default_factory=list, max_length=MAX_ARGS)
    """Arguments passed to the application."""
    conf: dict[str, Annotated[str, Field(max_length=MAX_PROPERTY_VALUE_LENGTH)]] = Field(
        default_factory=dict, max_length=MAX_PROPERTIES
    )
    """Spark properties for this application (`--conf`), on top of the cluster's spark-defaults. Keys the
    operator sets (spark.master, driver host and ports, spark.kubernetes.*...) are rejected."""
    py_files: list[ApplicationFile] = Field(default_factory=list, max_length=64)
    """.py, .zip or .egg files added to the Python path (`--py-files`)."""
    jars: list[ApplicationFile] = Field(default_factory=list, max_length=64)
    """JARs added to the driver and executor classpaths (`--jars`)."""
    driver: DriverSpec = Field(default_factory=DriverSpec)
    """The driver pod."""


class SparkSqlStep(KemrModel):
    """A Spark SQL script, as `spark-sql -e/-f` runs it: exactly one of query or file (HiveQL with variables,
    as EMR's Hive step: the `hive` step)."""

    model_config = cel_rules(
        cel(
            "has(self.query) != has(self.file)",
            "exactly one of query or file must be set",
        ),
    )

    query: str | None = Field(default=None, min_length=1, max_length=MAX_SQL_QUERY_LENGTH)
    """SQL statements, separated by semicolons."""
    file: ApplicationFile | None = None
    """A file of SQL statements on s3a:// (or s3://), hdfs://, or an absolute path in the image."""
    driver: DriverSpec = Field(default_factory=DriverSpec)
    """The driver pod."""


class HiveStep(KemrModel):
    """HiveQL, as EMR's Hive step (`hive-script --run-hive-script --args -f s3://.../q.q -d KEY=VALUE`):
    exactly one of query or file, run by Spark SQL with Hive support (`spark-sql`) against the cluster's
    Hive metastore. Needs Hive in the cluster's spec.applications."""

    model_config = cel_rules(
        cel(
            "has(self.query) != has(self.file)",
            "exactly one of query or file must be set",
        ),
    )

    query: str | None = Field(default=None, min_length=1, max_length=MAX_SQL_QUERY_LENGTH)
    """HiveQL statements, separated by semicolons (`hive -e`)."""
    file: ApplicationFile | None = None
    """A HiveQL script on s3a:// (or s3://), hdfs://, or an absolute path in the image (`hive -f`)."""
    variables: dict[str, Annotated[str, Field(max_length=MAX_PROPERTY_VALUE_LENGTH)]] = Field(
        default_factory=dict,
        max_length=MAX_PROPERTIES,
        json_schema_extra=validations(
            cel(
                f"self.all(name, size(name) <= 128 && name.matches('{HIVE_VARIABLE_PATTERN}'))",
                "a variable's name is letters, digits, '_' and '.', starting with a letter or '_' (at most"
                " 128 characters), as ${NAME} matches it",
            )
        ),
    )
    """Variables substituted into the script as `${NAME}` (and `${hivevar:NAME}`), as Hive's `-d NAME=VALUE`
    (`--hivevar`), e.g. {INPUT: s3://bucket/orders/, OUTPUT: s3://bucket/totals/}."""
    driver: DriverSpec = Field(default_factory=DriverSpec)
    """The driver pod."""


class TrinoStep(KemrModel):
    """SQL run by the cluster's Trino, as the Trino CLI runs `--execute`/`--file` on EMR: exactly one of query
    or file. The statements run in order through the coordinator; the rows of the last one that returns
    rows go to `output` as CSV. A failing statement fails the step with Trino's error name, message and
    query id. Needs Trino in the cluster's spec.applications."""

    model_config = cel_rules(
        cel(
            "has(self.query) != has(self.file)",
            "exactly one of query or file must be set",
        ),
    )

    query: str | None = Field(default=None, min_length=1, max_length=MAX_SQL_QUERY_LENGTH)
    """Trino SQL statements, separated by semicolons."""
    file: str | None = Field(default=None, max_length=MAX_URI_LENGTH, pattern=S3_OBJECT_PATTERN)
    """A file of Trino SQL statements on S3 (s3://bucket/key or s3a://), read with the cluster's S3
    settings."""
    output: str | None = Field(default=None, max_length=MAX_URI_LENGTH, pattern=S3_OBJECT_PATTERN)
    """Where the last result goes, as one CSV object with a header row (s3://bucket/path/result.csv).
    Unset: the rows are printed to the driver's log only. To write results into a table, use SQL
    (`INSERT INTO`, `CREATE TABLE ... AS`)."""
    catalog: str = Field(default="hive", max_length=128, pattern=TRINO_NAME_PATTERN)
    """The session's catalog (hive, tpch, memory), for unqualified table names."""
    schema_: str = Field(default="default", alias="schema", max_length=128, pattern=TRINO_NAME_PATTERN)
    """The session's schema (a Hive database in the hive catalog)."""
    session_properties: dict[str, Annotated[str, Field(max_length=MAX_PROPERTY_VALUE_LENGTH)]] = Field(
        default_factory=dict,
        max_length=MAX_PROPERTIES,
        json_schema_extra=validations(
            cel(
                f"self.all(name, size(name) <= 128 && name.matches('{TRINO_NAME_PATTERN}'))",
                "a session property's name is letters, digits, '_' and '.' (catalog.property), starting with"
                " a letter or '_' (at most 128 characters)",
            )
        ),
    )
    """Trino session properties (the CLI's `--session NAME=VALUE`), e.g. {query_max_run_time: 10m,
    hive.insert_existing_partitions_behavior: OVERWRITE}."""
    driver: DriverSpec = Field(default_factory=DriverSpec)
    """The pod the statements are sent from (the work is the Trino workers'): its CPU and memory."""


class CommandStep(KemrModel):
    """An arbitrary command run in the cluster's image, as EMR's command-runner.jar."""

    args: list[Arg] = Field(min_length=1, max_length=MAX_ARGS)
    """The command and its arguments (no shell: use ["bash", "-c", "..."] for one), passed exactly as
    written (kemr escapes `$(VAR)` and `$$` from the kubelet's expansion)."""
    driver: DriverSpec = Field(default_factory=DriverSpec)
    """The pod the command runs in: its CPU and memory."""


class Retry(KemrModel):
    """How often a failed step is tried again. A driver lost to a node failure (INTERRUPTED) is retried
    without using up an attempt."""

    max_attempts: int = Field(default=1, ge=1, le=10)
    """Total attempts, 1 .. 10; 1 means no retry."""
    backoff_seconds: int = Field(default=30, ge=0, le=3600)
    """Seconds to wait before the next attempt, 0 .. 3600."""


# The step types: StepBody's fields holding a step's body, as the CRD names them; exactly one is set. Their
# behaviour (driver, validation, scaling demand, kubectl) is registered in kemr.steptypes, in this order.
STEP_TYPE_FIELDS = ("spark", "sparkSql", "command", "hive", "trino")


def _exactly_one_of(fields: tuple[str, ...]) -> dict[str, str]:
    present = ", ".join(f"has(self.{field})" for field in fields)
    names = f"{', '.join(fields[:-1])} or {fields[-1]}" if len(fields) > 1 else fields[0]
    return cel(f"[{present}].exists_one(x, x)", f"exactly one of {names} must be set")


# One rule: exactly one kind of step.
_ONE_STEP_KIND = _exactly_one_of(STEP_TYPE_FIELDS)


class StepBody(KemrModel):
    """What a step runs and what happens when it fails: shared by EMRStep and the cluster's inline steps."""

    model_config = cel_rules(_ONE_STEP_KIND)

    action_on_failure: ActionOnFailure = ActionOnFailure.CONTINUE
    """After a failure: CONTINUE runs the next step; CANCEL_AND_WAIT cancels the cluster's pending steps and
    waits; TERMINATE_CLUSTER terminates the cluster. Only CONTINUE when the cluster's stepConcurrency > 1."""
    spark: SparkStep | None = None
    """A Spark application (PySpark file or JAR). Exactly one of spark, sparkSql, command, hive, trino."""
    spark_sql: SparkSqlStep | None = None
    """A Spark SQL query or file. Exactly one of spark, sparkSql, command, hive, trino."""
    command: CommandStep | None = None
    """A command in the cluster image. Exactly one of spark, sparkSql, command, hive, trino."""
    hive: HiveStep | None = None
    """A HiveQL query or script, with variables. Exactly one of spark, sparkSql, command, hive, trino."""
    trino: TrinoStep | None = None
    """Trino SQL, a query or a file, its result to S3 as CSV. Exactly one of spark, sparkSql, command, hive,
    trino."""
    retry: Retry = Field(default_factory=Retry)
    """Attempts and backoff."""
    active_deadline_seconds: int | None = Field(default=None, ge=1)
    """Fail an attempt that runs longer than this many seconds (reason DEADLINE_EXCEEDED), counted from when
    its driver pod is requested (status.attempts[].requestedTime), as a Job's activeDeadlineSeconds: time the
    pod waits to be scheduled or admitted counts."""
    pod_overrides: PodOverrides = None
    """Merged into the step's driver pod after the cluster's podOverrides (labels, annotations, affinity,
    tolerations, env...); fields the operator owns (containers' command, the service account...) win."""


class ClusterRef(KemrModel):
    """The EMRCluster, in the step's namespace, that runs the step."""

    name: str = Field(max_length=63, pattern=DNS_1035_LABEL_PATTERN)
    """Name of the EMRCluster."""


def _unchanged(field: str) -> str:
    # Also catches adding or removing an optional field, which a rule on the field itself can't see.
    present = f"has(self.{field}) == has(oldSelf.{field})"
    return f"{present} && (!has(self.{field}) || self.{field} == oldSelf.{field})"


_STEP_IMMUTABLE_FIELDS = (
    "clusterRef",
    "actionOnFailure",
    *STEP_TYPE_FIELDS,
    "retry",
    "activeDeadlineSeconds",
)
_STEP_IMMUTABLE_RULES = [
    *(
        cel(
            _unchanged(field),
            f"spec.{field} is immutable: only spec.cancel can change;"
            " create a new EMRStep to run something else",
            field_path=f".{field}",
            reason="FieldValueForbidden",
        )
        for field in _STEP_IMMUTABLE_FIELDS
    ),
    cel(
        "self.cancel || !oldSelf.cancel",
        "spec.cancel cannot be set back to false: a cancelled step stays cancelled; create a new EMRStep",
        field_path=".cancel",
        reason="FieldValueForbidden",
    ),
]


class EMRStepSpec(StepBody):
    """An EMRStep runs once on its cluster, in creation order with the cluster's other steps. Everything but
    `cancel` is immutable."""

    model_config = cel_rules(_ONE_STEP_KIND, *_STEP_IMMUTABLE_RULES)

    cluster_ref: ClusterRef
    """The EMRCluster that runs the step (same namespace)."""
    cancel: bool = False
    """Set to true to cancel the step: a pending step is dropped, a running driver gets SIGTERM and a grace
    period. Cannot be set back to false."""


class InlineStep(StepBody):
    """A step declared in the EMRCluster (as RunJobFlow's Steps): the operator creates an EMRStep named
    `<cluster>-<name>` for it, owned by the cluster. Immutable once submitted."""

    model_config = cel_rules(
        _ONE_STEP_KIND,
        cel(
            "self == oldSelf",
            "an inline step is immutable once submitted: add a step with a new name instead",
            reason="FieldValueForbidden",
        ),
    )

    name: str = Field(max_length=MAX_INLINE_STEP_NAME_LENGTH, pattern=DNS_1123_LABEL_PATTERN)
    """Step name, unique in the cluster; the EMRStep is named `<cluster>-<name>`."""


class StepState(StrEnum):
    """Lifecycle of a step, as in EMR."""

    PENDING = "PENDING"
    CANCEL_PENDING = "CANCEL_PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


STEP_FINAL_STATES = frozenset({StepState.COMPLETED, StepState.CANCELLED, StepState.FAILED})


class StepReason(StrEnum):
    """The reason codes the operator writes in a step's stateChangeReason and failureDetails."""

    USER_REQUEST = "USER_REQUEST"  # spec.cancel
    CLUSTER_NOT_FOUND = "CLUSTER_NOT_FOUND"
    CLUSTER_TERMINATING = "CLUSTER_TERMINATING"
    CLUSTER_TERMINATED = "CLUSTER_TERMINATED"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    STEP_FAILURE = "STEP_FAILURE"  # the driver exited non-zero
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    DRIVER_LOST = "DRIVER_LOST"  # the driver pod vanished or its node failed (INTERRUPTED)
    DRIVER_START_FAILURE = "DRIVER_START_FAILURE"  # the driver did not start in time (unschedulable, image…)
    OUT_OF_MEMORY = "OUT_OF_MEMORY"  # the kernel OOM-killed the driver container (exit 137, reason OOMKilled)
    CANCELLED_BY_FAILED_STEP = (
        "CANCELLED_BY_FAILED_STEP"  # another step's CANCEL_AND_WAIT / TERMINATE_CLUSTER
    )
    INTERNAL_ERROR = "INTERNAL_ERROR"


class StepStateChangeReason(KemrModel):
    """Why the step is in its state."""

    code: str | None = Field(default=None, max_length=64, pattern=r"^[A-Z][A-Z0-9_]*$")
    """Reason code: USER_REQUEST, CLUSTER_NOT_FOUND, CLUSTER_TERMINATING, CLUSTER_TERMINATED,
    VALIDATION_ERROR, STEP_FAILURE, DEADLINE_EXCEEDED, DRIVER_LOST, DRIVER_START_FAILURE, OUT_OF_MEMORY,
    CANCELLED_BY_FAILED_STEP, INTERNAL_ERROR."""
    message: str | None = None
    """Human-readable details."""


class AttemptOutcome(StrEnum):
    """How one attempt ended."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    CANCELLED = "CANCELLED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    START_FAILED = "START_FAILED"  # the driver never started within the operator's driverStartTimeoutSeconds


class StepAttempt(KemrModel):
    """One run of the step's driver. Recorded before its pod is created."""

    number: int = Field(ge=1)
    """Attempt number, from 1."""
    driver_pod: str
    """Name of the attempt's driver pod."""
    requested_time: datetime | None = None
    """When the attempt was recorded and its driver pod requested; activeDeadlineSeconds and the operator's
    driverStartTimeoutSeconds count from here (for attempts recorded before this field: startTime)."""
    start_time: datetime | None = None
    """When the driver container started running (from the pod's containerStatuses); unset until it does."""
    end_time: datetime | None = None
    """When the driver pod ended."""
    exit_code: int | None = None
    """Exit code of the driver."""
    pod_uid: str | None = Field(default=None, max_length=64)
    """UID of the driver pod once it was created (a recorded attempt without one has no pod yet)."""
    outcome: AttemptOutcome | None = None
    """COMPLETED, FAILED, INTERRUPTED, CANCELLED, DEADLINE_EXCEEDED or START_FAILED; unset while the attempt
    runs."""
    application_id: str | None = Field(default=None, max_length=64)
    """The Spark application the attempt's driver ran (`app-<yyyyMMddHHmmss>-<nnnn>`, the id Spark's
    standalone master gave it), once the driver ended: the key of its Spark UI in the cluster's history
    server, at `/history/<applicationId>/jobs/` (`kubectl emr ui STEP` opens it). Unset for command steps,
    and when the driver's log did not name it (spark-log4j2 below INFO)."""


class FailureDetails(KemrModel):
    """Why the step failed, as EMR's FailureDetails."""

    reason: str | None = None
    """Reason code (see stateChangeReason.code)."""
    message: str | None = None
    """The end of the driver's output."""
    log_file: str | None = None
    """Where the driver's log is, under the cluster's logUri."""


class StepTimeline(KemrModel):
    """When the step was created, started and ended."""

    created: datetime | None = None
    """When the operator first saw the step."""
    started: datetime | None = None
    """When a driver first started running (unset while no driver has started)."""
    ended: datetime | None = None
    """When the step reached COMPLETED, CANCELLED or FAILED."""


class EMRStepStatus(KemrModel):
    """Observed state of an EMRStep, written by the operator."""

    state: StepState | None = None
    """PENDING, CANCEL_PENDING, RUNNING, COMPLETED, CANCELLED, FAILED or INTERRUPTED."""
    state_change_reason: StepStateChangeReason | None = None
    """Why the step is in its state."""
    attempts: list[StepAttempt] = Field(default_factory=list)
    """Every attempt so far, oldest first."""
    attempt_count: int | None = Field(default=None, ge=0)
    """Number of attempts so far."""
    failure_details: FailureDetails | None = None
    """Set when the step failed."""
    conditions: Conditions = Field(default_factory=list)
    """Ready, Progressing, Stalled, with the generation they were computed from."""
    timeline: StepTimeline | None = None
    """When the step was created, started and ended."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation the status was computed from."""
    creation_revision: str | None = Field(default=None, max_length=64)
    """The step's metadata.resourceVersion when the operator first recorded it: orders steps created within
    the same second (creationTimestamp has one-second precision) in the order the apiserver stored them."""
