"""EMR steps ↔ EMRSteps.

StepConfig (AddJobFlowSteps, RunJobFlow's Steps) → EMRStep manifest:

| StepConfig field | EMRStep                                                                             |
|------------------|-------------------------------------------------------------------------------------|
| Name (required)  | metadata.generateName `<cluster>-<slug>-` (≤ 47 + 5 random: EMRStep names are ≤ 52),|
|                  | annotation kemr.io/emr-name                                                         |
| ActionOnFailure  | spec.actionOnFailure: CONTINUE, CANCEL_AND_WAIT, TERMINATE_CLUSTER; TERMINATE_JOB_FLOW|
|                  | → TERMINATE_CLUSTER; unset → TERMINATE_CLUSTER (EMR's API default)                  |
| HadoopJarStep    | the step body (translate.commands), and annotation kemr.io/emr-step-config: the     |
|                  | HadoopJarStep as sent, which DescribeStep reports as Config                         |
| (the cluster)    | spec.clusterRef.name                                                                |
| StepMonitoring-  | ignored                                                                             |
| Configuration    |                                                                                     |

EMRStep → EMR `Step` (DescribeStep) and `StepSummary` (ListSteps), same fields:

| Step field                  | from                                                                       |
|-----------------------------|----------------------------------------------------------------------------|
| Id                          | kemr.io/emr-id label, else derived from metadata.uid (translate.ids)        |
| Name                        | kemr.io/emr-name annotation, else metadata.name                            |
| Config                      | the kemr.io/emr-step-config annotation ({Jar, Properties (a map here),      |
|                             | MainClass, Args}), else the command-runner.jar command equivalent to spec   |
| ActionOnFailure             | spec.actionOnFailure                                                       |
| Status.State                | status.state; PENDING when the operator has not written a status yet        |
| Status.StateChangeReason    | {Code: NONE, Message: "<kemr code>: <message>"} (EMR's only code is NONE);  |
|                             | {} when the step has no reason                                             |
| Status.FailureDetails       | status.failureDetails {Reason: kemr's code, Message, LogFile}, FAILED only  |
| Status.Timeline             | CreationDateTime: status.timeline.created else metadata.creationTimestamp; |
|                             | StartDateTime: .started; EndDateTime: .ended (epoch seconds)               |
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import pydantic

from kemr.api.constants import MAX_STEP_NAME_LENGTH, STEP_KIND
from kemr.api.step import ActionOnFailure, EMRStepSpec
from kemr.emrapi.errors import ValidationException
from kemr.emrapi.translate.commands import hadoop_jar_step, step_body
from kemr.emrapi.translate.common import (
    ANNOTATION_NAME,
    ANNOTATION_STEP_CONFIG,
    API_VERSION,
    Json,
    display_name,
    epoch,
    get_object,
    get_str,
    join,
    metadata,
    object_annotations,
    section,
    slug,
)
from kemr.emrapi.translate.ids import emr_step_id

ACTIONS_ON_FAILURE: Final[Mapping[str, str]] = {
    "CONTINUE": ActionOnFailure.CONTINUE.value,
    "CANCEL_AND_WAIT": ActionOnFailure.CANCEL_AND_WAIT.value,
    "TERMINATE_CLUSTER": ActionOnFailure.TERMINATE_CLUSTER.value,
    "TERMINATE_JOB_FLOW": ActionOnFailure.TERMINATE_CLUSTER.value,
}
"""EMR's ActionOnFailure → kemr's."""

DEFAULT_ACTION_ON_FAILURE: Final = ActionOnFailure.TERMINATE_CLUSTER.value
GENERATED_SUFFIX_LENGTH: Final = 5  # what the apiserver appends to a generateName


def step_from_config(
    step_config: Mapping[str, Any], *, cluster_name: str, namespace: str, field: str
) -> Json:
    """The EMRStep manifest for EMR's StepConfig `step_config` on the EMRCluster `cluster_name` in
    `namespace`; `field` names the step in errors (`Steps[0]`). ValidationException naming the field, e.g.
    `Steps[0].HadoopJarStep.Args[3]`."""
    name = get_str(step_config, "Name", field, required=True) or ""
    action = get_str(step_config, "ActionOnFailure", field)
    if action is not None and action not in ACTIONS_ON_FAILURE:
        raise ValidationException(
            f"{join(field, 'ActionOnFailure')}: expected one of {', '.join(ACTIONS_ON_FAILURE)},"
            f" got {action!r}"
        )
    jar_step = get_object(step_config, "HadoopJarStep", field, required=True) or {}
    body = step_body(jar_step, join(field, "HadoopJarStep"))
    spec: Json = {
        "clusterRef": {"name": cluster_name},
        "actionOnFailure": ACTIONS_ON_FAILURE[action] if action else DEFAULT_ACTION_ON_FAILURE,
        **body,
    }
    try:
        EMRStepSpec.model_validate(spec)
    except pydantic.ValidationError as err:
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors(include_url=False)
        )
        raise ValidationException(f"{field}: the step makes an invalid EMRStep: {problems}") from err
    room = MAX_STEP_NAME_LENGTH - GENERATED_SUFFIX_LENGTH - len(cluster_name) - 2
    prefix = f"{cluster_name}-{slug(name, max(room, 1), fallback='step')}-"
    return {
        "apiVersion": API_VERSION,
        "kind": STEP_KIND,
        "metadata": {
            "generateName": prefix,
            "namespace": namespace,
            "annotations": {
                ANNOTATION_NAME: name,
                ANNOTATION_STEP_CONFIG: json.dumps(jar_step, separators=(",", ":"), sort_keys=True),
            },
        },
        "spec": spec,
    }


def _config(obj: Mapping[str, Any]) -> Json:
    raw = object_annotations(obj).get(ANNOTATION_STEP_CONFIG)
    try:
        stored = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        stored = None
    if not isinstance(stored, dict):
        return hadoop_jar_step(section(obj, "spec"))
    config: Json = {
        "Jar": str(stored.get("Jar", "")),
        "Properties": {
            str(p.get("Key", "")): str(p.get("Value") or "")
            for p in stored.get("Properties") or []
            if isinstance(p, dict)
        },
    }
    if stored.get("MainClass"):
        config["MainClass"] = str(stored["MainClass"])
    config["Args"] = [str(a) for a in stored.get("Args") or []]
    return config


def _status(obj: Mapping[str, Any]) -> Json:
    status = section(obj, "status")
    state = status.get("state") or "PENDING"
    out: Json = {"State": state}
    reason = section(status, "stateChangeReason")
    code, message = reason.get("code"), reason.get("message")
    if code or message:
        text = f"{code}: {message}" if code and message else str(code or message)
        out["StateChangeReason"] = {"Code": "NONE", "Message": text}
    else:
        out["StateChangeReason"] = {}
    failure = section(status, "failureDetails")
    if state == "FAILED" and failure:
        details = {
            "Reason": failure.get("reason"),
            "Message": failure.get("message"),
            "LogFile": failure.get("logFile"),
        }
        out["FailureDetails"] = {k: str(v) for k, v in details.items() if v}
    timeline = section(status, "timeline")
    times = {
        "CreationDateTime": epoch(timeline.get("created")) or epoch(metadata(obj).get("creationTimestamp")),
        "StartDateTime": epoch(timeline.get("started")),
        "EndDateTime": epoch(timeline.get("ended")),
    }
    out["Timeline"] = {k: v for k, v in times.items() if v is not None}
    return out


def describe_step(obj: Mapping[str, Any]) -> Json:
    """EMR's `Step` (DescribeStep's Step) for an EMRStep object: {Id, Name, Config{Jar, Properties,
    MainClass?, Args}, ActionOnFailure, Status{State, StateChangeReason, FailureDetails?, Timeline}}."""
    return {
        "Id": emr_step_id(obj),
        "Name": display_name(obj),
        "Config": _config(obj),
        "ActionOnFailure": str(section(obj, "spec").get("actionOnFailure", ActionOnFailure.CONTINUE.value)),
        "Status": _status(obj),
    }


def step_summary(obj: Mapping[str, Any]) -> Json:
    """EMR's `StepSummary` (ListSteps' Steps[]) for an EMRStep object: the same fields as `describe_step`."""
    return describe_step(obj)
