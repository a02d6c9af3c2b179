"""EMRCluster → EMR's `Cluster` (DescribeCluster) and `ClusterSummary` (ListClusters).

| Cluster field            | from                                                                          |
|--------------------------|-------------------------------------------------------------------------------|
| Id                       | kemr.io/emr-id label, else derived from metadata.uid (translate.ids)           |
| Name                     | kemr.io/emr-name annotation, else metadata.name                               |
| Status.State             | status.state; STARTING when the operator has not written a status yet         |
| Status.StateChangeReason | status.stateChangeReason, the code mapped by `REASON_CODES`; {} when none      |
| Status.Timeline          | CreationDateTime: status.timeline.created else metadata.creationTimestamp;    |
|                          | ReadyDateTime: .ready; EndDateTime: .ended (epoch seconds)                    |
| ReleaseLabel             | kemr.io/emr-release-label annotation, else spec.release                       |
| Applications             | spec.applications: Spark, HDFS → Hadoop, Hive, Trino; Version from the release |
|                          | (Spark, Hadoop, Trino; Hive has none: Spark SQL runs HiveQL)                   |
| InstanceCollectionType   | INSTANCE_GROUP                                                                |
| AutoTerminate            | not spec.autoTermination.keepAliveWhenNoSteps                                 |
| TerminationProtected     | spec.terminationProtected                                                     |
| StepConcurrencyLevel     | spec.stepConcurrency (1)                                                      |
| LogUri                   | spec.logUri                                                                   |
| Tags                     | the kemr.io/emr-tags annotation (translate.tags)                              |
| MasterPublicDnsName      | the host of status.endpoints.master (spark://<host>:7077): an in-cluster name  |
| Configurations           | spec.configurations (translate.configurations)                                |
| NormalizedInstanceHours  | 0                                                                             |
| VisibleToAllUsers        | true                                                                          |
| ClusterArn               | arn:aws:elasticmapreduce:<region>:000000000000:cluster/<Id>                  |

`REASON_CODES`: kemr's ClusterStateChangeReasonCode → EMR's. The codes EMR has are kept; IDLE_TIMEOUT
and MAX_LIFETIME, which EMR's enum lacks, become ALL_STEPS_COMPLETED and USER_REQUEST, and the Message
starts with kemr's code ("IDLE_TIMEOUT: ...").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from kemr.config import BUILTIN_RELEASES, Release
from kemr.emrapi.translate.common import (
    ANNOTATION_RELEASE_LABEL,
    Json,
    display_name,
    epoch,
    metadata,
    object_annotations,
    section,
)
from kemr.emrapi.translate.configurations import emr_configurations
from kemr.emrapi.translate.ids import emr_cluster_id
from kemr.emrapi.translate.instances import InstanceTypes
from kemr.emrapi.translate.tags import emr_tags

ACCOUNT_ID: Final = "000000000000"
DEFAULT_REGION: Final = "us-east-1"

REASON_CODES: Final[Mapping[str, str]] = {
    "INTERNAL_ERROR": "INTERNAL_ERROR",
    "VALIDATION_ERROR": "VALIDATION_ERROR",
    "INSTANCE_FAILURE": "INSTANCE_FAILURE",
    "INSTANCE_FLEET_TIMEOUT": "INSTANCE_FLEET_TIMEOUT",
    "BOOTSTRAP_FAILURE": "BOOTSTRAP_FAILURE",
    "USER_REQUEST": "USER_REQUEST",
    "STEP_FAILURE": "STEP_FAILURE",
    "ALL_STEPS_COMPLETED": "ALL_STEPS_COMPLETED",
    # Not in EMR's enum: the cluster ended by itself, as an idle EMR cluster with an auto-termination
    # policy reports it.
    "IDLE_TIMEOUT": "ALL_STEPS_COMPLETED",
    # Not in EMR's enum: a limit the user set (spec.autoTermination.maxLifetimeSeconds) ended it.
    "MAX_LIFETIME": "USER_REQUEST",
}
"""kemr's cluster reason code → EMR's ClusterStateChangeReasonCode."""

APPLICATION_NAMES: Final[Mapping[str, str]] = {
    "Spark": "Spark",
    "HDFS": "Hadoop",
    "Hive": "Hive",
    "Trino": "Trino",
}
"""kemr application → EMR application name."""


def cluster_arn(cluster_id: str, region: str = DEFAULT_REGION) -> str:
    """The ClusterArn of `cluster_id`: arn:aws:elasticmapreduce:<region>:000000000000:cluster/<id>."""
    return f"arn:aws:elasticmapreduce:{region}:{ACCOUNT_ID}:cluster/{cluster_id}"


def state_change_reason(reason: Mapping[str, Any]) -> Json:
    """EMR's ClusterStateChangeReason {Code?, Message?} for kemr's {code, message}; {} when empty."""
    code, message = reason.get("code"), reason.get("message")
    out: Json = {}
    if isinstance(code, str) and code:
        emr_code = REASON_CODES.get(code)
        if emr_code is not None:
            out["Code"] = emr_code
        if emr_code != code:
            message = f"{code}: {message}" if message else code
    if message:
        out["Message"] = str(message)
    return out


def cluster_status(obj: Mapping[str, Any]) -> Json:
    """EMR's ClusterStatus {State, StateChangeReason, Timeline} of an EMRCluster object."""
    status = section(obj, "status")
    timeline = section(status, "timeline")
    times = {
        "CreationDateTime": epoch(timeline.get("created")) or epoch(metadata(obj).get("creationTimestamp")),
        "ReadyDateTime": epoch(timeline.get("ready")),
        "EndDateTime": epoch(timeline.get("ended")),
    }
    return {
        "State": str(status.get("state") or "STARTING"),
        "StateChangeReason": state_change_reason(section(status, "stateChangeReason")),
        "Timeline": {k: v for k, v in times.items() if v is not None},
    }


def cluster_summary(obj: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> Json:
    """EMR's `ClusterSummary` (ListClusters' Clusters[]): {Id, Name, Status, NormalizedInstanceHours,
    ClusterArn}."""
    cid = emr_cluster_id(obj)
    return {
        "Id": cid,
        "Name": display_name(obj),
        "Status": cluster_status(obj),
        "NormalizedInstanceHours": 0,
        "ClusterArn": cluster_arn(cid, region),
    }


def _versions(release: Release | None) -> dict[str, str]:
    if release is None:
        return {}
    return {"Spark": release.spark_version, "Hadoop": release.hadoop_version, "Trino": release.trino_version}


def master_host(obj: Mapping[str, Any]) -> str | None:
    """The master's host name, from status.endpoints.master (spark://<host>:7077); None before it is known."""
    url = section(obj, "status", "endpoints").get("master")
    if not isinstance(url, str) or not url:
        return None
    return urlsplit(url).hostname or None


def describe_cluster(
    obj: Mapping[str, Any],
    *,
    instance_types: InstanceTypes,
    region: str = DEFAULT_REGION,
    release: Release | None = None,
) -> Json:
    """EMR's `Cluster` (DescribeCluster's Cluster) for an EMRCluster object. `release` gives the
    applications' versions (the operator config's release of spec.release; the built-in one when None).
    `instance_types` is accepted for symmetry with `instance_groups` (DescribeCluster reports no types)."""
    del instance_types
    spec = section(obj, "spec")
    label = str(spec.get("release", ""))
    versions = _versions(release or BUILTIN_RELEASES.get(label))
    applications = []
    for app in spec.get("applications") or ["Spark", "HDFS"]:
        name = APPLICATION_NAMES.get(str(app), str(app))
        entry: Json = {"Name": name}
        if name in versions:
            entry["Version"] = versions[name]
        applications.append(entry)
    cid = emr_cluster_id(obj)
    auto = section(spec, "autoTermination")
    cluster: Json = {
        "Id": cid,
        "Name": display_name(obj),
        "Status": cluster_status(obj),
        "InstanceCollectionType": "INSTANCE_GROUP",
        "ReleaseLabel": object_annotations(obj).get(ANNOTATION_RELEASE_LABEL) or label,
        "AutoTerminate": not auto.get("keepAliveWhenNoSteps", True),
        "TerminationProtected": bool(spec.get("terminationProtected", False)),
        "UnhealthyNodeReplacement": True,
        "VisibleToAllUsers": True,
        "Applications": applications,
        "Tags": emr_tags(obj),
        "NormalizedInstanceHours": 0,
        "Configurations": emr_configurations(spec.get("configurations")),
        "ClusterArn": cluster_arn(cid, region),
        "StepConcurrencyLevel": int(spec.get("stepConcurrency", 1)),
    }
    if spec.get("logUri"):
        cluster["LogUri"] = str(spec["logUri"])
    host = master_host(obj)
    if host:
        cluster["MasterPublicDnsName"] = host
    return cluster
