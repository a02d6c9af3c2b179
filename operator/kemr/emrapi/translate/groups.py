"""EMRCluster groups ↔ EMR instance groups (ListInstanceGroups, ModifyInstanceGroups).

| InstanceGroup field    | master / core group / task group                                              |
|------------------------|-------------------------------------------------------------------------------|
| Id                     | the ig- id of "master" / the group's name (translate.ids)                     |
| Name                   | master / the group's name                                                     |
| InstanceGroupType      | MASTER / CORE / TASK                                                          |
| Market                 | ON_DEMAND / ON_DEMAND / SPOT for capacityType spot, else ON_DEMAND            |
| InstanceType           | the type whose size the resources are (translate.instances), else kemr.custom |
| RequestedInstanceCount | 1 / replicas / status desired, else replicas, else minReplicas                |
| RunningInstanceCount   | status.groups[name].ready (0 before the operator reports it)                  |
| Status.State           | ENDED (cluster terminated; reason CLUSTER_TERMINATED), TERMINATING (cluster   |
|                        | terminating), RUNNING (running >= requested), PROVISIONING or BOOTSTRAPPING   |
|                        | (the cluster was never ready yet), else RESIZING                              |
| Status.Timeline        | the cluster's creation, ready and end times                                   |
| Configurations         | [] / the group's configurations                                               |

ModifyInstanceGroups (`modify_instance_groups_patch`): InstanceCount → a core group's replicas (1 .. 500),
a task group's replicas (0 .. 1000; minReplicas lowered and maxReplicas raised to admit it);
Configurations → the group's configurations; the master → InvalidRequestException;
EC2InstanceIdsToTerminate → InvalidRequestException (kemr chooses the pods); ShrinkPolicy and
ReconfigurationType are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from copy import deepcopy
from typing import Any

from kemr.emrapi.errors import InvalidRequestException, ValidationException
from kemr.emrapi.translate.cluster import cluster_status
from kemr.emrapi.translate.common import (
    ANNOTATION_INSTANCE_TYPES,
    Json,
    get_int,
    get_objects,
    get_str,
    join,
    metadata,
    object_annotations,
    section,
)
from kemr.emrapi.translate.configurations import emr_configurations, kemr_configurations
from kemr.emrapi.translate.ids import emr_cluster_id, instance_group_id
from kemr.emrapi.translate.instances import InstanceTypes, instance_type_for

_FINAL = ("TERMINATED", "TERMINATED_WITH_ERRORS")


def _requested_types(obj: Mapping[str, Any]) -> dict[str, str]:
    raw = object_annotations(obj).get(ANNOTATION_INSTANCE_TYPES)
    try:
        data = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _group_state(cluster_state: str, ever_ready: bool, requested: int, running: int) -> Json:
    if cluster_state in _FINAL:
        return {
            "State": "ENDED",
            "StateChangeReason": {"Code": "CLUSTER_TERMINATED", "Message": "Cluster terminated"},
        }
    if cluster_state == "TERMINATING":
        return {"State": "TERMINATING", "StateChangeReason": {}}
    if running >= requested:
        return {"State": "RUNNING", "StateChangeReason": {}}
    if not ever_ready:
        state = "BOOTSTRAPPING" if cluster_state == "BOOTSTRAPPING" else "PROVISIONING"
        return {"State": state, "StateChangeReason": {}}
    return {
        "State": "RESIZING",
        "StateChangeReason": {"Message": f"{running} of {requested} instances running"},
    }


def _task_requested(group: Mapping[str, Any], status: Mapping[str, Any]) -> int:
    if isinstance(status.get("desired"), int) and "desired" in status:
        return int(status["desired"])
    replicas = group.get("replicas")
    return int(replicas) if isinstance(replicas, int) else int(group.get("minReplicas", 0) or 0)


def instance_groups(obj: Mapping[str, Any], *, instance_types: InstanceTypes) -> list[Json]:
    """EMR's InstanceGroup shapes (ListInstanceGroups' InstanceGroups) of an EMRCluster object: the master,
    then the core groups, then the task groups."""
    spec = section(obj, "spec")
    uid = str(metadata(obj).get("uid", ""))
    observed = {
        str(g.get("name")): g for g in section(obj, "status").get("groups") or [] if isinstance(g, dict)
    }
    requested_types = _requested_types(obj)
    cluster = cluster_status(obj)
    state, timeline = cluster["State"], cluster["Timeline"]
    ever_ready = "ReadyDateTime" in timeline

    rows: list[tuple[str, str, str, Mapping[str, Any], int, Any]] = [
        ("master", "MASTER", "ON_DEMAND", section(spec, "master"), 1, [])
    ]
    for group in spec.get("coreGroups") or []:
        rows.append((str(group.get("name")), "CORE", "ON_DEMAND", group, int(group.get("replicas", 1)), None))
    for group in spec.get("taskGroups") or []:
        name = str(group.get("name"))
        market = "SPOT" if group.get("capacityType", "spot") == "spot" else "ON_DEMAND"
        rows.append((name, "TASK", market, group, _task_requested(group, observed.get(name, {})), None))

    out: list[Json] = []
    for name, kind, market, group, requested, configurations in rows:
        running = int(observed.get(name, {}).get("ready", 0) or 0)
        resources = group.get("resources") or {"cpu": "1", "memory": "4Gi"}
        status = _group_state(state, ever_ready, requested, running)
        status["Timeline"] = dict(timeline)
        out.append(
            {
                "Id": instance_group_id(uid, name),
                "Name": name,
                "Market": market,
                "InstanceGroupType": kind,
                "InstanceType": instance_type_for(instance_types, resources, requested_types.get(name)),
                "RequestedInstanceCount": requested,
                "RunningInstanceCount": running,
                "Status": status,
                "Configurations": configurations
                if configurations is not None
                else emr_configurations(group.get("configurations")),
            }
        )
    return out


def modify_instance_groups_patch(
    obj: Mapping[str, Any], request_instance_groups: list[Json], field: str = "InstanceGroups"
) -> Json:
    """The spec patch (JSON merge patch: coreGroups and/or taskGroups, complete lists) for
    ModifyInstanceGroups' `InstanceGroups` on the EMRCluster `obj`; {} when nothing changes.
    InvalidRequestException naming `InstanceGroups[i].InstanceGroupId` for an id not of this cluster."""
    spec = section(obj, "spec")
    uid = str(metadata(obj).get("uid", ""))
    core = [deepcopy(g) for g in spec.get("coreGroups") or []]
    task = [deepcopy(g) for g in spec.get("taskGroups") or []]
    by_id: dict[str, tuple[str, Json | None]] = {instance_group_id(uid, "master"): ("master", None)}
    by_id.update({instance_group_id(uid, str(g.get("name"))): ("core", g) for g in core})
    by_id.update({instance_group_id(uid, str(g.get("name"))): ("task", g) for g in task})
    changed: set[str] = set()
    for item_field, item in get_objects({"InstanceGroups": request_instance_groups}, "InstanceGroups", ""):
        item_field = item_field.replace("InstanceGroups", field, 1)
        group_id = get_str(item, "InstanceGroupId", item_field, required=True) or ""
        if group_id not in by_id:
            raise InvalidRequestException(
                f"{join(item_field, 'InstanceGroupId')}: no instance group {group_id} in cluster"
                f" {emr_cluster_id(obj)}"
            )
        if item.get("EC2InstanceIdsToTerminate"):
            raise InvalidRequestException(
                f"{join(item_field, 'EC2InstanceIdsToTerminate')}: not supported; set InstanceCount and kemr"
                " chooses the nodes"
            )
        role, group = by_id[group_id]
        count = get_int(item, "InstanceCount", item_field)
        configurations = kemr_configurations(item, parent=item_field) if "Configurations" in item else None
        if role == "master" or group is None:
            if count is not None or configurations is not None:
                raise InvalidRequestException(f"{item_field}: the master instance group can't be modified")
            continue
        if configurations is not None:
            group["configurations"] = configurations
            changed.add(role)
        if count is None:
            continue
        count_field = join(item_field, "InstanceCount")
        if role == "core":
            if not 1 <= count <= 500:
                raise ValidationException(f"{count_field}: a core group has 1 .. 500 instances, got {count}")
            group["replicas"] = count
        else:
            if not 0 <= count <= 1000:
                raise ValidationException(f"{count_field}: a task group has 0 .. 1000 instances, got {count}")
            group["replicas"] = count
            group["minReplicas"] = min(int(group.get("minReplicas", 0) or 0), count)
            group["maxReplicas"] = max(int(group.get("maxReplicas", 1) or 1), count, 1)
        changed.add(role)
    patch: Json = {}
    if "core" in changed:
        patch["coreGroups"] = core
    if "task" in changed:
        patch["taskGroups"] = task
    return patch
