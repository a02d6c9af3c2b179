"""Cluster policies: managed scaling, auto-termination, bootstrap actions (read-only) and tags, as spec or
metadata patches (JSON merge patch bodies: a `null` removes a field, a list is replaced whole, so the lists
in these patches are complete).

Managed scaling (`PutManagedScalingPolicy`, `GetManagedScalingPolicy`, `RemoveManagedScalingPolicy`, and
RunJobFlow's `ManagedScalingPolicy`). kemr's managed scaling resizes task groups only, so EMR's
cluster-wide limits become the first task group's bounds:

| EMR ComputeLimits                | kemr                                                                 |
|----------------------------------|----------------------------------------------------------------------|
| (policy present)                 | spec.managedScaling.enabled = true (Remove: false)                   |
| UnitType Instances               | a node counts 1                                                      |
| UnitType VCPU                    | a node counts its whole vCPUs (its group's resources.cpu)            |
| UnitType InstanceFleetUnits      | InvalidRequestException (instance fleets are not supported)          |
| MinimumCapacityUnits             | first task group's minReplicas = ⌈(Min - fixed) / unit⌉, ≥ 0         |
| MaximumCapacityUnits             | first task group's maxReplicas = ⌊(Max - fixed) / unit⌋, ≥ 1         |
| MaximumOnDemandCapacityUnits,    | ignored (kemr does not scale core groups; spot/on-demand is per      |
| MaximumCoreCapacityUnits,        | group), not reported back                                            |
| UtilizationPerformanceIndex,     |                                                                      |
| ScalingStrategy                  |                                                                      |

`fixed` is what managed scaling does not resize: the master, the core groups' replicas and the other task
groups' replicas (their minReplicas when unset), in the same units. Get reports UnitType Instances with
Minimum/MaximumCapacityUnits = fixed nodes + the task groups' minReplicas/maxReplicas sums, so a policy
put in Instances reads back the same; {} when managed scaling is off.

Auto-termination (`PutAutoTerminationPolicy`, `GetAutoTerminationPolicy`, `RemoveAutoTerminationPolicy`):
IdleTimeout (seconds, 60 .. 604800, EMR's default 3600) ↔ spec.autoTermination.idleTimeoutSeconds.

Bootstrap actions (`ListBootstrapActions`): spec.bootstrapActions[] {name, script, args} → EMR's Command
{Name, ScriptPath, Args}.

Tags (`AddTags`, `RemoveTags`): see kemr.emrapi.translate.tags; patches of metadata.annotations and
metadata.labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from copy import deepcopy
from typing import Any, Final

from kemr.api.quantity import parse_quantity
from kemr.emrapi.errors import InvalidRequestException, ValidationException
from kemr.emrapi.translate.common import ANNOTATION_TAGS, Json, get_int, get_object, get_str, join, section
from kemr.emrapi.translate.tags import is_label, object_tags, parse_tags, tags_annotation

MIN_IDLE_TIMEOUT: Final = 60
MAX_IDLE_TIMEOUT: Final = 604800
DEFAULT_IDLE_TIMEOUT: Final = 3600


# --- managed scaling -------------------------------------------------------------------------------------


def _unit(resources: Any, unit_type: str) -> int:
    if unit_type != "VCPU" or not isinstance(resources, dict):
        return 1
    try:
        return max(1, int(parse_quantity(str(resources.get("cpu", "1")))))
    except ValueError:
        return 1


def _task_replicas(group: Mapping[str, Any]) -> int:
    replicas = group.get("replicas")
    return int(replicas) if isinstance(replicas, int) else int(group.get("minReplicas", 0) or 0)


def _fixed_units(spec: Mapping[str, Any], unit_type: str, scaled: Mapping[str, Any] | None) -> int:
    fixed = _unit(section(spec, "master").get("resources"), unit_type)
    for group in spec.get("coreGroups") or []:
        fixed += int(group.get("replicas", 1)) * _unit(group.get("resources"), unit_type)
    for group in spec.get("taskGroups") or []:
        if group is not scaled:
            fixed += _task_replicas(group) * _unit(group.get("resources"), unit_type)
    return fixed


def scaling_patch(spec: Mapping[str, Any], policy: Mapping[str, Any], field: str) -> Json:
    """The spec patch for EMR's ManagedScalingPolicy `policy` on a cluster whose spec is `spec`:
    {managedScaling: {enabled: true}, taskGroups: [... first group's min/max/replicas set ...]} (taskGroups
    only when there is one). `field` names the policy in errors (`ManagedScalingPolicy`)."""
    limits = get_object(policy, "ComputeLimits", field, required=True) or {}
    limits_field = join(field, "ComputeLimits")
    unit_type = get_str(limits, "UnitType", limits_field, required=True)
    if unit_type == "InstanceFleetUnits":
        raise InvalidRequestException(
            f"{limits_field}.UnitType: instance fleets are not supported; use Instances or VCPU"
        )
    if unit_type not in ("Instances", "VCPU"):
        raise ValidationException(f"{limits_field}.UnitType: expected Instances, VCPU or InstanceFleetUnits")
    minimum = get_int(limits, "MinimumCapacityUnits", limits_field, required=True) or 0
    maximum = get_int(limits, "MaximumCapacityUnits", limits_field, required=True) or 0
    if minimum < 1:
        raise ValidationException(f"{limits_field}.MinimumCapacityUnits: must be at least 1")
    if maximum < minimum:
        raise ValidationException(
            f"{limits_field}.MaximumCapacityUnits: must be at least MinimumCapacityUnits ({minimum})"
        )
    patch: Json = {"managedScaling": {"enabled": True}}
    task_groups = [deepcopy(g) for g in spec.get("taskGroups") or []]
    if not task_groups:
        return patch
    first = task_groups[0]
    fixed = _fixed_units(spec, unit_type, spec["taskGroups"][0])
    unit = _unit(first.get("resources"), unit_type)
    max_replicas = max(1, min(1000, (maximum - fixed) // unit))
    min_replicas = min(max_replicas, max(0, math.ceil((minimum - fixed) / unit)))
    first["minReplicas"] = min_replicas
    first["maxReplicas"] = max_replicas
    replicas = first.get("replicas")
    if isinstance(replicas, int):
        first["replicas"] = min(max(replicas, min_replicas), max_replicas)
    patch["taskGroups"] = task_groups
    return patch


def managed_scaling_policy(obj: Mapping[str, Any]) -> Json:
    """GetManagedScalingPolicy's output from an EMRCluster: {"ManagedScalingPolicy": {"ComputeLimits":
    {UnitType: Instances, MinimumCapacityUnits, MaximumCapacityUnits}}}, or {} when managed scaling is off."""
    spec = section(obj, "spec")
    if not section(spec, "managedScaling").get("enabled"):
        return {}
    fixed = _fixed_units(spec, "Instances", None) - sum(
        _task_replicas(g) for g in spec.get("taskGroups") or []
    )
    task_groups: Sequence[Mapping[str, Any]] = spec.get("taskGroups") or []
    minimum = fixed + sum(int(g.get("minReplicas", 0) or 0) for g in task_groups)
    maximum = fixed + sum(int(g.get("maxReplicas", 0) or 0) for g in task_groups)
    return {
        "ManagedScalingPolicy": {
            "ComputeLimits": {
                "UnitType": "Instances",
                "MinimumCapacityUnits": minimum,
                "MaximumCapacityUnits": maximum,
            }
        }
    }


def remove_managed_scaling_patch() -> Json:
    """RemoveManagedScalingPolicy's spec patch: managed scaling off, task groups keep their bounds (they run
    `replicas`, else minReplicas, nodes)."""
    return {"managedScaling": {"enabled": False}}


# --- auto-termination ------------------------------------------------------------------------------------


def idle_timeout(policy: Mapping[str, Any], field: str) -> int:
    """The IdleTimeout of EMR's AutoTerminationPolicy `policy` (3600 when unset). ValidationException
    naming `field.IdleTimeout` outside 60 .. 604800."""
    value = get_int(policy, "IdleTimeout", field)
    if value is None:
        return DEFAULT_IDLE_TIMEOUT
    if not MIN_IDLE_TIMEOUT <= value <= MAX_IDLE_TIMEOUT:
        raise ValidationException(
            f"{join(field, 'IdleTimeout')}: must be between {MIN_IDLE_TIMEOUT} and {MAX_IDLE_TIMEOUT}"
            f" seconds, got {value}"
        )
    return value


def auto_termination_patch(policy: Mapping[str, Any], field: str = "AutoTerminationPolicy") -> Json:
    """PutAutoTerminationPolicy's spec patch: {autoTermination: {idleTimeoutSeconds: n}}."""
    return {"autoTermination": {"idleTimeoutSeconds": idle_timeout(policy, field)}}


def remove_auto_termination_patch() -> Json:
    """RemoveAutoTerminationPolicy's spec patch (merge patch: null removes the field)."""
    return {"autoTermination": {"idleTimeoutSeconds": None}}


def auto_termination_policy(obj: Mapping[str, Any]) -> Json:
    """GetAutoTerminationPolicy's output: {"AutoTerminationPolicy": {"IdleTimeout": n}}, or {} when the
    cluster has no idle timeout."""
    timeout = section(obj, "spec", "autoTermination").get("idleTimeoutSeconds")
    return {"AutoTerminationPolicy": {"IdleTimeout": timeout}} if isinstance(timeout, int) else {}


# --- bootstrap actions -----------------------------------------------------------------------------------


def list_bootstrap_actions(obj: Mapping[str, Any]) -> list[Json]:
    """ListBootstrapActions' BootstrapActions: [{Name, ScriptPath, Args}] from spec.bootstrapActions. The
    Name is the kemr name (the EMR Name slugged at creation)."""
    return [
        {
            "Name": str(a.get("name", "")),
            "ScriptPath": str(a.get("script", "")),
            "Args": list(a.get("args") or []),
        }
        for a in section(obj, "spec").get("bootstrapActions") or []
        if isinstance(a, dict)
    ]


# --- tags ------------------------------------------------------------------------------------------------


def add_tags_patch(obj: Mapping[str, Any], request: Mapping[str, Any]) -> Json:
    """AddTags' metadata patch for the object: {"metadata": {"annotations": {kemr.io/emr-tags: ...},
    "labels": {...}}}. A tag with an existing key replaces it; a replaced tag that was a label and no longer
    can be is removed from the labels."""
    new = parse_tags(request)
    if not new:
        raise ValidationException("Tags: at least one tag is required")
    old = object_tags(obj)
    merged = {**old, **new}
    labels: dict[str, str | None] = {}
    for key, value in new.items():
        if is_label(key, value):
            labels[key] = value
        elif key in old and is_label(key, old[key]):
            labels[key] = None
    return _tags_patch(merged, labels)


def remove_tags_patch(obj: Mapping[str, Any], request: Mapping[str, Any]) -> Json:
    """RemoveTags' metadata patch: the keys of `TagKeys` removed from the annotation, and from the labels
    where the tag was one. Unknown keys are ignored, as EMR does."""
    keys = request.get("TagKeys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValidationException("TagKeys: expected a list of strings")
    old = object_tags(obj)
    kept = {k: v for k, v in old.items() if k not in keys}
    labels: dict[str, str | None] = {k: None for k in keys if k in old and is_label(k, old[k])}
    return _tags_patch(kept, labels)


def _tags_patch(tags: Mapping[str, str], labels: Mapping[str, str | None]) -> Json:
    meta: Json = {"annotations": {ANNOTATION_TAGS: tags_annotation(tags)}}
    if labels:
        meta["labels"] = dict(labels)
    return {"metadata": meta}
