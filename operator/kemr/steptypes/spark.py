"""`spark`: a Spark application, a JAR or a PySpark file, as `spark-submit` runs it (EMR's Spark step)."""

from __future__ import annotations

from typing import Any

from kemr.api.step import SparkStep
from kemr.steptypes.base import AddStepOptions, StepOptionError, StepType, spark_driver_conf


def _driver_args(step: SparkStep) -> list[str]:
    args = ["--class", step.main_class] if step.main_class else []
    args += ["--py-files", ",".join(step.py_files)] if step.py_files else []
    args += ["--jars", ",".join(step.jars)] if step.jars else []
    args += spark_driver_conf(step.driver.resources)
    for key, value in sorted(step.conf.items()):
        args += ["--conf", f"{key}={value}"]
    return [*args, step.main_application_file, *step.args]


def _add_step_body(o: AddStepOptions) -> dict[str, Any]:
    """`--type spark` (a JAR) or `--type pyspark` (a .py file): `--file`, `--main-class` for a JAR, the
    application's arguments after `--`."""
    if not o.file:
        example = "s3://bucket/jobs/job.py" if o.type == "pyspark" else "s3://bucket/jars/app.jar"
        raise StepOptionError(f"--type {o.type} needs --file: the application, e.g. --file {example}")
    if o.type == "pyspark" and not o.file.endswith(".py"):
        raise StepOptionError(
            f"--type pyspark needs a .py --file, not {o.file!r}: use --type spark for a JAR"
        )
    if o.type == "pyspark" and o.main_class:
        raise StepOptionError("--main-class is for JAR applications: use --type spark, or drop --main-class")
    spark: dict[str, Any] = {"mainApplicationFile": o.file}
    if o.main_class:
        spark["mainClass"] = o.main_class
    if o.args:
        spark["args"] = list(o.args)
    return spark


SPARK = StepType[SparkStep](
    field="spark",
    body=lambda spec: spec.spark,
    driver_resources=lambda step: step.driver.resources,
    spark_program="spark-submit",
    driver_args=_driver_args,
    add_step_types=("spark", "pyspark"),
    add_step_body=_add_step_body,
    conf_field="conf",
)
