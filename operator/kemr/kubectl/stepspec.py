"""The EMRStep `kubectl emr add-step` creates, from its options (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kemr.api.constants import API_VERSION, STEP_KIND

# EMR's step types, as `aws emr add-steps Type=...` names them, and what each becomes in an EMRStep.
STEP_TYPES = ("spark", "pyspark", "sql", "command")


class StepOptionError(ValueError):
    """Options that don't make a step; the message names the option and the fix."""


@dataclass(frozen=True)
class StepOptions:
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
    if o.type in ("spark", "pyspark"):
        if not o.file:
            example = "s3://bucket/jobs/job.py" if o.type == "pyspark" else "s3://bucket/jars/app.jar"
            raise StepOptionError(f"--type {o.type} needs --file: the application, e.g. --file {example}")
        if o.type == "pyspark" and not o.file.endswith(".py"):
            raise StepOptionError(
                f"--type pyspark needs a .py --file, not {o.file!r}: use --type spark for a JAR"
            )
        if o.type == "pyspark" and o.main_class:
            raise StepOptionError(
                "--main-class is for JAR applications: use --type spark, or drop --main-class"
            )
        spark: dict[str, Any] = {"mainApplicationFile": o.file}
        if o.main_class:
            spark["mainClass"] = o.main_class
        if o.args:
            spark["args"] = list(o.args)
        return {"spark": spark}
    if o.type == "sql":
        if bool(o.query) == bool(o.file):
            raise StepOptionError(
                "--type sql needs exactly one of --query 'SELECT ...' or --file s3://.../q.sql"
            )
        if o.args:
            raise StepOptionError("--type sql takes no arguments: put them in the query")
        return {"sparkSql": {"query": o.query} if o.query else {"file": o.file}}
    if o.type == "command":
        if not o.args:
            raise StepOptionError(
                "--type command needs the command after --, e.g. -- bash -c 'hdfs dfs -ls /'"
            )
        if o.file or o.query or o.main_class:
            raise StepOptionError(
                "--type command takes only the command after --: drop --file/--query/--main-class"
            )
        return {"command": {"args": list(o.args)}}
    raise StepOptionError(f"--type must be one of {', '.join(STEP_TYPES)}, not {o.type!r}")


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
