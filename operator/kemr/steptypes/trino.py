"""`trino`: SQL run by the cluster's Trino, a query or a file of statements, as the Trino CLI runs it on EMR
(`trino-cli --execute`/`--file`). The driver is the Trino image's `kemr-trino-step` (docs/image-contract.md):
it sends the statements to the coordinator (KEMR_TRINO_SERVER, set by kemr.applications.trino), writes the
last result to S3 as CSV, and on a failed statement ends with `Trino query <id> failed: <ERROR_NAME>:
<message>` as its termination message (the step's failureDetails.message)."""

from __future__ import annotations

from typing import Any

from kemr.api.step import TrinoStep
from kemr.steptypes.base import AddStepOptions, StepOptionError, StepType

DRIVER_PROGRAM = "kemr-trino-step"


def _driver_args(step: TrinoStep) -> list[str]:
    """kemr-trino-step's whole command: the session (catalog, schema, properties sorted by name), then the
    statements (`--query` or `--file`) and where the result goes (`--output`). Each as `--option=VALUE`, so a
    value starting with `-` (a query `-- comment`...) is never taken for an option."""
    args = [DRIVER_PROGRAM, f"--catalog={step.catalog}", f"--schema={step.schema_}"]
    args += [f"--session={name}={value}" for name, value in sorted(step.session_properties.items())]
    args.append(f"--query={step.query}" if step.query else f"--file={step.file}")
    if step.output:
        args.append(f"--output={step.output}")
    return args


def _add_step_body(o: AddStepOptions) -> dict[str, Any]:
    """`--type trino`: exactly one of `--query` or `--file` (s3://); after `--`, the Trino CLI's options
    `--catalog NAME`, `--schema NAME`, `--session NAME=VALUE` and kemr's `--output s3://.../result.csv`."""
    if bool(o.query) == bool(o.file):
        raise StepOptionError(
            "--type trino needs exactly one of --query 'SELECT ...' or --file s3://.../q.sql"
        )
    body: dict[str, Any] = {"query": o.query} if o.query else {"file": o.file}
    args = list(o.args)
    while args:
        option = args.pop(0)
        if option not in ("--catalog", "--schema", "--session", "--output") or not args:
            raise StepOptionError(
                f"--type trino takes only --catalog NAME, --schema NAME, --session NAME=VALUE and"
                f" --output s3://... after --, not {option!r}"
            )
        value = args.pop(0)
        if option == "--session":
            name, eq, setting = value.partition("=")
            if not eq:
                raise StepOptionError(f"--session takes NAME=VALUE, not {value!r}")
            body.setdefault("sessionProperties", {})[name] = setting
        else:
            body[option.removeprefix("--")] = value
    return body


TRINO = StepType[TrinoStep](
    field="trino",
    body=lambda spec: spec.trino,
    driver_resources=lambda step: step.driver.resources,
    spark_program=None,
    driver_args=_driver_args,
    add_step_types=("trino",),
    add_step_body=_add_step_body,
    needs_application="Trino",
    driver_application="Trino",
)
