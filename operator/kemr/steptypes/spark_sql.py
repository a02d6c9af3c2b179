"""`sparkSql`: a Spark SQL script, a query or a file of statements, as `spark-sql` runs it (HiveQL with
variables, as EMR's Hive step, is `hive`: kemr.steptypes.hive)."""

from __future__ import annotations

from typing import Any

from kemr.api.step import SparkSqlStep
from kemr.steptypes.base import AddStepOptions, StepOptionError, StepType, spark_driver_conf


def _driver_args(step: SparkSqlStep) -> list[str]:
    source = ["-e", step.query] if step.query else ["-f", str(step.file)]
    return [*spark_driver_conf(step.driver.resources), *source]


def _add_step_body(o: AddStepOptions) -> dict[str, Any]:
    """`--type sql`: exactly one of `--query` or `--file`, no arguments."""
    if bool(o.query) == bool(o.file):
        raise StepOptionError("--type sql needs exactly one of --query 'SELECT ...' or --file s3://.../q.sql")
    if o.args:
        raise StepOptionError("--type sql takes no arguments: put them in the query")
    return {"query": o.query} if o.query else {"file": o.file}


SPARK_SQL = StepType[SparkSqlStep](
    field="sparkSql",
    body=lambda spec: spec.spark_sql,
    driver_resources=lambda step: step.driver.resources,
    spark_program="spark-sql",
    driver_args=_driver_args,
    add_step_types=("sql",),
    add_step_body=_add_step_body,
)
