"""RunJobFlow's request → an EMRCluster manifest (+ the request's Steps, created by the server as EMRSteps
once the cluster has a name).

| RunJobFlow field                         | EMRCluster
| ---------------------------------------- | -----------------------------------------------------------------
| Name (required)                          | metadata.generateName `<slug>-` (DNS-1035, ≤ 24 + "-": cluster
|                                          | names are ≤ 30), annotation kemr.io/emr-name
| ReleaseLabel                             | spec.release: `releases[label]`; a kemr-X.Y label as is; any
|                                          | other emr-* → the default release (kemr-1.0); annotation
|                                          | kemr.io/emr-release-label keeps the label for DescribeCluster
| Applications[].Name                      | spec.applications: Spark (always), Hadoop → HDFS, Hive, Trino /
|                                          | Presto / PrestoSQL → Trino (+ Hive: Trino's catalog is the
|                                          | metastore); Tez, HCatalog, Ganglia accepted and ignored; others
|                                          | ValidationException. HDFS is added whenever there is a CORE group
|                                          | (EMR always installs Hadoop) and never without one
| Instances.InstanceGroups MASTER          | spec.master.resources (InstanceCount must be 1; EBS ignored)
| Instances.InstanceGroups CORE            | spec.coreGroups[{name: core, replicas: InstanceCount,
|                                          | resources, storage: EBS volumes' total size}] (one CORE group)
| Instances.InstanceGroups TASK            | spec.taskGroups[{name: Name slug (≤ 16) or task<i>,
|                                          | capacityType: Market SPOT → spot, ON_DEMAND or unset (EMR's
|                                          | default) → on-demand,
|                                          | minReplicas = replicas = InstanceCount, maxReplicas =
|                                          | max(InstanceCount, 1), resources}] (bounds from
|                                          | ManagedScalingPolicy when set)
| InstanceGroups[].Configurations          | the core/task group's configurations (MASTER: refused)
| Instances.MasterInstanceType,            | the uniform form: a master, and InstanceCount - 1 core nodes
| SlaveInstanceType, InstanceCount         |
| Instances.InstanceFleets                 | InvalidRequestException: use InstanceGroups
| Instances.KeepJobFlowAliveWhenNoSteps    | spec.autoTermination.keepAliveWhenNoSteps (EMR's default false)
| Instances.TerminationProtected           | spec.terminationProtected
| Configurations                           | spec.configurations (see translate.configurations)
| BootstrapActions[{Name, ScriptBootstrap- | spec.bootstrapActions[{name: Name slug (≤ 40, made unique),
| Action{Path, Args}}]                     | script: Path (s3n:// → s3://), args}]
| LogUri                                   | spec.logUri (s3n:// → s3://)
| StepConcurrencyLevel                     | spec.stepConcurrency (1 .. 256)
| AutoTerminationPolicy.IdleTimeout        | spec.autoTermination.idleTimeoutSeconds (60 .. 604800)
| ManagedScalingPolicy                     | spec.managedScaling + task group bounds (translate.policies)
| Tags                                     | annotation kemr.io/emr-tags, and labels where valid (tags.py)
| Steps                                    | returned as they are (validated now), for the server to create
|                                          | as EMRSteps (translate.steps)
| AmiVersion, KerberosAttributes           | InvalidRequestException (not supported)

The instance types requested are kept in the annotation kemr.io/emr-instance-types, so DescribeCluster and
ListInstanceGroups report them back while the groups' resources still match.

Accepted and ignored (they configure AWS itself, which kemr does not use): `IGNORED_FIELDS`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any, Final

import pydantic

from kemr.api import EMRClusterSpec
from kemr.api.cluster import S3_URI_PATTERN, Application
from kemr.api.constants import CLUSTER_KIND, DEFAULT_RELEASE, MAX_CLUSTER_NAME_LENGTH, MAX_GROUP_NAME_LENGTH
from kemr.emrapi.errors import InvalidRequestException, ValidationException
from kemr.emrapi.translate.common import (
    ANNOTATION_INSTANCE_TYPES,
    ANNOTATION_NAME,
    ANNOTATION_RELEASE_LABEL,
    ANNOTATION_TAGS,
    API_VERSION,
    Json,
    get_bool,
    get_int,
    get_object,
    get_objects,
    get_str,
    get_strings,
    join,
    s3_uri,
    slug,
)
from kemr.emrapi.translate.configurations import kemr_configurations
from kemr.emrapi.translate.instances import InstanceTypes, resources_for
from kemr.emrapi.translate.policies import idle_timeout, scaling_patch
from kemr.emrapi.translate.steps import step_from_config
from kemr.emrapi.translate.tags import parse_tags, tag_labels, tags_annotation

IGNORED_FIELDS: Final[tuple[str, ...]] = (
    "AdditionalInfo",
    "AutoScalingRole",
    "CustomAmiId",
    "EbsRootVolumeIops",
    "EbsRootVolumeSize",
    "EbsRootVolumeThroughput",
    "ExtendedSupport",
    "JobFlowRole",
    "LogEncryptionKmsKeyId",
    "MonitoringConfiguration",
    "NewSupportedProducts",
    "OSReleaseLabel",
    "PlacementGroupConfigs",
    "RepoUpgradeOnBoot",
    "ScaleDownBehavior",
    "SecurityConfiguration",
    "ServiceRole",
    "SessionEnabled",
    "StepExecutionRoleArn",
    "SupportedProducts",
    "VisibleToAllUsers",
    "Instances.AdditionalMasterSecurityGroups",
    "Instances.AdditionalSlaveSecurityGroups",
    "Instances.Ec2KeyName",
    "Instances.Ec2SubnetId",
    "Instances.Ec2SubnetIds",
    "Instances.EmrManagedMasterSecurityGroup",
    "Instances.EmrManagedSlaveSecurityGroup",
    "Instances.HadoopVersion",
    "Instances.Placement",
    "Instances.ServiceAccessSecurityGroup",
    "Instances.UnhealthyNodeReplacement",
    "Instances.InstanceGroups[].AutoScalingPolicy",
    "Instances.InstanceGroups[].BidPrice",
    "Instances.InstanceGroups[].CustomAmiId",
    "Instances.InstanceGroups[].EbsConfiguration (TASK and MASTER)",
)
"""RunJobFlow fields accepted and ignored: IAM roles, networking, AMIs, encryption and EC2 details kemr
has no use for, and custom automatic scaling (use ManagedScalingPolicy)."""

REFUSED_FIELDS: Final[Mapping[str, str]] = {
    "AmiVersion": "AMI-based releases are not supported; use ReleaseLabel",
    "KerberosAttributes": "Kerberos is not supported",
    "Instances.InstanceFleets": "instance fleets are not supported; use InstanceGroups",
}
"""RunJobFlow fields refused with InvalidRequestException, and why."""

APPLICATIONS: Final[Mapping[str, tuple[Application, ...]]] = {
    "spark": (Application.SPARK,),
    "hadoop": (Application.HDFS,),
    "hive": (Application.HIVE,),
    "trino": (Application.TRINO, Application.HIVE),
    "presto": (Application.TRINO, Application.HIVE),
    "prestosql": (Application.TRINO, Application.HIVE),
}
"""EMR application names (case-insensitive) → kemr applications."""

IGNORED_APPLICATIONS: Final = frozenset({"tez", "hcatalog", "ganglia"})
"""EMR applications accepted and ignored: Spark SQL runs kemr's Hive steps (no Tez), the metastore needs no
HCatalog, and Prometheus metrics stand in for Ganglia."""

MAX_NAME_SLUG: Final = MAX_CLUSTER_NAME_LENGTH - 6  # generateName adds 5 random characters after the "-"
_BOOTSTRAP_SCRIPT = re.compile(r"^(s3a?://[^/\s]+/\S+|/\S+)$")


@dataclasses.dataclass(frozen=True)
class RunJobFlowTranslation:
    """What RunJobFlow becomes: the EMRCluster to create, then the request's Steps (StepConfigs, in order;
    `step_from_config(steps[i], field=f"Steps[{i}]", ...)` makes each EMRStep once the cluster has its name).
    """

    cluster: Json
    steps: list[Json] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Groups:
    master: Json
    core: list[Json]
    task: list[Json]
    instance_types: dict[str, str]


def cluster_from_run_job_flow(
    request: Mapping[str, Any],
    *,
    namespace: str,
    instance_types: InstanceTypes,
    releases: Mapping[str, str] | None = None,
) -> RunJobFlowTranslation:
    """Translate a RunJobFlow request into an EMRCluster manifest in `namespace` and the request's Steps.
    `instance_types` sizes the groups (`instances.DEFAULT_INSTANCE_TYPES` or the chart's table);
    `releases` maps EMR release labels to kemr releases. ValidationException or InvalidRequestException
    naming the field as EMR spells it."""
    for name, why in REFUSED_FIELDS.items():
        parent, _, key = name.rpartition(".")
        holder = request.get(parent) if parent else request
        if isinstance(holder, dict) and holder.get(key):
            raise InvalidRequestException(f"{name}: {why}")
    name = get_str(request, "Name", required=True) or ""
    if not name.strip():
        raise ValidationException("Name: must not be empty")
    instances = get_object(request, "Instances", required=True) or {}
    groups = _groups(instances, instance_types)
    release_label = get_str(request, "ReleaseLabel")

    spec: Json = {"release": _release(release_label, releases)}
    spec["applications"] = _applications(request, has_core=bool(groups.core))
    spec["master"] = groups.master
    if groups.core:
        spec["coreGroups"] = groups.core
    if groups.task:
        spec["taskGroups"] = groups.task
    auto: Json = {
        "keepAliveWhenNoSteps": bool(get_bool(instances, "KeepJobFlowAliveWhenNoSteps", "Instances"))
    }
    auto_policy = get_object(request, "AutoTerminationPolicy")
    if auto_policy is not None:
        auto["idleTimeoutSeconds"] = idle_timeout(auto_policy, "AutoTerminationPolicy")
    spec["autoTermination"] = auto
    spec["terminationProtected"] = bool(get_bool(instances, "TerminationProtected", "Instances"))
    concurrency = get_int(request, "StepConcurrencyLevel")
    if concurrency is not None:
        if not 1 <= concurrency <= 256:
            raise ValidationException(f"StepConcurrencyLevel: must be between 1 and 256, got {concurrency}")
        spec["stepConcurrency"] = concurrency
    configurations = kemr_configurations(request)
    if configurations:
        spec["configurations"] = configurations
    bootstrap = _bootstrap_actions(request)
    if bootstrap:
        spec["bootstrapActions"] = bootstrap
    log_uri = get_str(request, "LogUri")
    if log_uri:
        log_uri = s3_uri(log_uri)
        if not re.match(S3_URI_PATTERN, log_uri):
            raise ValidationException(f"LogUri: expected an s3:// URI, got {log_uri!r}")
        spec["logUri"] = log_uri
    scaling = get_object(request, "ManagedScalingPolicy")
    if scaling is not None:
        spec.update(scaling_patch(spec, scaling, "ManagedScalingPolicy"))
    _check_spec(spec)

    steps = [step for _, step in get_objects(request, "Steps")]
    for index, step in enumerate(steps):
        # Refuse a bad step before the cluster exists: the server creates the EMRSteps afterwards.
        built = step_from_config(step, cluster_name="c", namespace=namespace, field=f"Steps[{index}]")
        if (concurrency or 1) > 1 and built["spec"]["actionOnFailure"] != "CONTINUE":
            raise ValidationException(
                f"Steps[{index}].ActionOnFailure: must be CONTINUE when StepConcurrencyLevel is above 1"
            )

    tags = parse_tags(request)
    annotations = {ANNOTATION_NAME: name, ANNOTATION_TAGS: tags_annotation(tags)}
    if release_label:
        annotations[ANNOTATION_RELEASE_LABEL] = release_label
    annotations[ANNOTATION_INSTANCE_TYPES] = json.dumps(groups.instance_types, separators=(",", ":"))
    meta: Json = {
        "generateName": slug(name, MAX_NAME_SLUG, fallback="cluster", dns_1035=True) + "-",
        "namespace": namespace,
        "annotations": annotations,
    }
    labels = tag_labels(tags)
    if labels:
        meta["labels"] = labels
    cluster = {"apiVersion": API_VERSION, "kind": CLUSTER_KIND, "metadata": meta, "spec": spec}
    return RunJobFlowTranslation(cluster=cluster, steps=steps)


def _release(label: str | None, releases: Mapping[str, str] | None) -> str:
    if not label:
        return DEFAULT_RELEASE
    if releases and label in releases:
        return releases[label]
    if re.match(r"^kemr-\d+\.\d+$", label):
        return label
    if label.startswith("emr-"):
        return DEFAULT_RELEASE
    known = ", ".join(sorted(releases or {})) or "any emr-* label"
    raise ValidationException(f"ReleaseLabel: unknown release {label!r}; known: {known}")


def _applications(request: Mapping[str, Any], *, has_core: bool) -> list[str]:
    wanted = {Application.SPARK}
    for field, app in get_objects(request, "Applications"):
        name = get_str(app, "Name", field, required=True) or ""
        key = name.lower()
        if key in IGNORED_APPLICATIONS:
            continue
        if key not in APPLICATIONS:
            known = ", ".join(
                ["Spark", "Hadoop", "Hive", "Trino", "Presto", "PrestoSQL", "Tez", "HCatalog", "Ganglia"]
            )
            raise ValidationException(f"{field}.Name: unsupported application {name!r}; supported: {known}")
        wanted.update(APPLICATIONS[key])
    wanted.discard(Application.HDFS)
    if has_core:  # EMR always installs Hadoop; kemr's DataNodes live on core nodes only
        wanted.add(Application.HDFS)
    return [app.value for app in Application if app in wanted]


def _storage(group: Mapping[str, Any], field: str) -> Json | None:
    ebs = get_object(group, "EbsConfiguration", field)
    if not ebs:
        return None
    total = 0
    for device_field, device in get_objects(ebs, "EbsBlockDeviceConfigs", join(field, "EbsConfiguration")):
        volume = get_object(device, "VolumeSpecification", device_field, required=True) or {}
        size = get_int(volume, "SizeInGB", join(device_field, "VolumeSpecification"), required=True) or 0
        total += size * (get_int(device, "VolumesPerInstance", device_field) or 1)
    return {"size": f"{total}Gi"} if total > 0 else None


def _groups(instances: Mapping[str, Any], instance_types: InstanceTypes) -> _Groups:
    configs = get_objects(instances, "InstanceGroups", "Instances")
    if not configs:
        master_type = get_str(instances, "MasterInstanceType", "Instances")
        if master_type is None:
            raise ValidationException(
                "Instances.InstanceGroups: required (or Instances.MasterInstanceType with SlaveInstanceType"
                " and InstanceCount)"
            )
        count = get_int(instances, "InstanceCount", "Instances") or 1
        configs = [("Instances", {"InstanceRole": "MASTER", "InstanceType": master_type, "InstanceCount": 1})]
        if count > 1:
            slave = get_str(instances, "SlaveInstanceType", "Instances", required=True) or ""
            configs.append(
                ("Instances", {"InstanceRole": "CORE", "InstanceType": slave, "InstanceCount": count - 1})
            )
    master: Json | None = None
    core: list[Json] = []
    task: list[Json] = []
    types: dict[str, str] = {}
    used = set()
    for field, group in configs:
        role = get_str(group, "InstanceRole", field, required=True)
        type_field = join(
            field, "MasterInstanceType" if field == "Instances" and role == "MASTER" else "InstanceType"
        )
        if field == "Instances" and role == "CORE":
            type_field = "Instances.SlaveInstanceType"
        instance_type = get_str(group, "InstanceType", field, required=True) or ""
        resources = resources_for(instance_types, instance_type, type_field)
        count = get_int(group, "InstanceCount", field, required=True) or 0
        market = get_str(group, "Market", field) or "ON_DEMAND"
        if market not in ("ON_DEMAND", "SPOT"):
            raise ValidationException(f"{join(field, 'Market')}: expected ON_DEMAND or SPOT, got {market!r}")
        configurations = kemr_configurations(group, parent=field)
        if role == "MASTER":
            if master is not None:
                raise ValidationException(f"{field}: only one MASTER instance group is allowed")
            if count != 1:
                raise InvalidRequestException(
                    f"{join(field, 'InstanceCount')}: kemr runs one master node; got {count}"
                )
            if configurations:
                raise InvalidRequestException(
                    f"{join(field, 'Configurations')}: the master takes the cluster's Configurations only"
                )
            master = {"resources": resources}
            types["master"] = instance_type
        elif role == "CORE":
            if core:
                raise ValidationException(f"{field}: only one CORE instance group is allowed")
            if not 1 <= count <= 500:
                raise ValidationException(
                    f"{join(field, 'InstanceCount')}: must be between 1 and 500, got {count}"
                )
            group_spec: Json = {"name": "core", "replicas": count, "resources": resources}
            storage = _storage(group, field)
            if storage:
                group_spec["storage"] = storage
            if configurations:
                group_spec["configurations"] = configurations
            core.append(group_spec)
            types["core"] = instance_type
            used.add("core")
        elif role == "TASK":
            if not 0 <= count <= 1000:
                raise ValidationException(
                    f"{join(field, 'InstanceCount')}: must be between 0 and 1000, got {count}"
                )
            label = get_str(group, "Name", field)
            name = (
                slug(label, MAX_GROUP_NAME_LENGTH, fallback=f"task{len(task) + 1}")
                if label
                else f"task{len(task) + 1}"
            )
            base, suffix = name, 2
            while name in used:
                tail = f"-{suffix}"
                name = base[: MAX_GROUP_NAME_LENGTH - len(tail)].rstrip("-") + tail
                suffix += 1
            used.add(name)
            group_spec = {
                "name": name,
                "capacityType": "spot" if market == "SPOT" else "on-demand",
                "minReplicas": count,
                "maxReplicas": max(count, 1),
                "replicas": count,
                "resources": resources,
            }
            if configurations:
                group_spec["configurations"] = configurations
            task.append(group_spec)
            types[name] = instance_type
        else:
            raise ValidationException(
                f"{join(field, 'InstanceRole')}: expected MASTER, CORE or TASK, got {role!r}"
            )
    if master is None:
        raise ValidationException("Instances.InstanceGroups: a MASTER instance group is required")
    return _Groups(master=master, core=core, task=task, instance_types=types)


def _bootstrap_actions(request: Mapping[str, Any]) -> list[Json]:
    actions: list[Json] = []
    used: set[str] = set()
    for field, action in get_objects(request, "BootstrapActions"):
        label = get_str(action, "Name", field, required=True) or ""
        script = get_object(action, "ScriptBootstrapAction", field, required=True) or {}
        script_field = join(field, "ScriptBootstrapAction")
        path = s3_uri(get_str(script, "Path", script_field, required=True) or "")
        if not _BOOTSTRAP_SCRIPT.match(path):
            raise ValidationException(
                f"{script_field}.Path: expected an s3:// object or an absolute path in the image,"
                f" got {path!r}"
            )
        name = slug(label, 40, fallback=f"bootstrap-{len(actions) + 1}")
        base, suffix = name, 2
        while name in used:
            tail = f"-{suffix}"
            name = base[: 40 - len(tail)].rstrip("-") + tail
            suffix += 1
        used.add(name)
        entry: Json = {"name": name, "script": path}
        args = get_strings(script, "Args", script_field)
        if args:
            entry["args"] = args
        actions.append(entry)
    return actions


def _check_spec(spec: Json) -> None:
    """The spec as the CRD's schema checks it (patterns, ranges, lengths; not the CEL rules): a translation
    must never produce a spec the apiserver refuses with a less helpful message."""
    try:
        EMRClusterSpec.model_validate(spec)
    except pydantic.ValidationError as err:
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors(include_url=False)
        )
        raise ValidationException(f"the request makes an invalid EMRCluster: {problems}") from err
