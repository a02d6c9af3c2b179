"""`command`: a command run as given in the cluster's image, as EMR's command-runner.jar (no Spark driver
options: whatever it launches sizes itself)."""

from __future__ import annotations

from typing import Any

from kemr.api.step import CommandStep
from kemr.steptypes.base import AddStepOptions, StepOptionError, StepType


def _add_step_body(o: AddStepOptions) -> dict[str, Any]:
    """`--type command`: the command after `--`, nothing else."""
    if not o.args:
        raise StepOptionError("--type command needs the command after --, e.g. -- bash -c 'hdfs dfs -ls /'")
    if o.file or o.query or o.main_class:
        raise StepOptionError(
            "--type command takes only the command after --: drop --file/--query/--main-class"
        )
    return {"args": list(o.args)}


COMMAND = StepType[CommandStep](
    field="command",
    body=lambda spec: spec.command,
    driver_resources=lambda step: step.driver.resources,
    spark_program=None,
    driver_args=lambda step: list(step.args),
    add_step_types=("command",),
    add_step_body=_add_step_body,
)
