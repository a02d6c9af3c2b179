"""`hive`: HiveQL, a query or a script with variables, as EMR's Hive step, run by `spark-sql` (Spark SQL with
Hive support) against the cluster's Hive metastore: its own, or its DataCatalog's."""

from __future__ import annotations

from typing import Any

from kemr.api.step import HiveStep
from kemr.steptypes.base import AddStepOptions, StepOptionError, StepType, spark_driver_conf


def _driver_args(step: HiveStep) -> list[str]:
    """spark-sql's options as Hive's CLI takes them: `--hivevar NAME=VALUE` per variable (Hive's `-d`), then
    `-e QUERY` or `-f FILE`. spark-sql reads `-f` through Hadoop's FileSystem, so s3:// and hdfs:// work."""
    variables = [
        arg for name, value in sorted(step.variables.items()) for arg in ("--hivevar", f"{name}={value}")
    ]
    source = ["-e", step.query] if step.query else ["-f", str(step.file)]
    return [*spark_driver_conf(step.driver.resources), *variables, *source]


def _add_step_body(o: AddStepOptions) -> dict[str, Any]:
    """`--type hive`: exactly one of `--query` or `--file`; after `--`, EMR's Hive step arguments
    `-d NAME=VALUE` (or `--hivevar NAME=VALUE`), as `aws emr add-steps Type=HIVE,Args=[-d,INPUT=s3://...]`."""
    if bool(o.query) == bool(o.file):
        raise StepOptionError("--type hive needs exactly one of --query 'SELECT ...' or --file s3://.../q.q")
    variables: dict[str, str] = {}
    args = list(o.args)
    while args:
        option = args.pop(0)
        if option not in ("-d", "--define", "--hivevar") or not args or "=" not in args[0]:
            raise StepOptionError(
                f"--type hive takes only variables after --, as -d NAME=VALUE, not {option!r}"
            )
        name, _, value = args.pop(0).partition("=")
        variables[name] = value
    body: dict[str, Any] = {"query": o.query} if o.query else {"file": o.file}
    if variables:
        body["variables"] = variables
    return body


HIVE = StepType[HiveStep](
    field="hive",
    body=lambda spec: spec.hive,
    driver_resources=lambda step: step.driver.resources,
    spark_program="spark-sql",
    driver_args=_driver_args,
    add_step_types=("hive",),
    add_step_body=_add_step_body,
    needs_application="Hive",
)
