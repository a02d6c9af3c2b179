"""StatefulSets (master, core groups) and Deployments (task groups)."""

from __future__ import annotations

from typing import Any

from kemr.builders.configmap import group_config_data, scripts_data
from kemr.builders.meta import object_meta
from kemr.builders.pod import DATA_VOLUME, build_pod_template, config_hash
from kemr.resolve import ResolvedCluster, ResolvedGroup

REVISION_HISTORY_LIMIT = 5


def group_config_hash(resolved: ResolvedCluster, group: ResolvedGroup) -> str:
    """Hash of everything a group's pods mount from ConfigMaps (its configuration and the scripts)."""
    return config_hash(group_config_data(resolved, group), scripts_data())


def _pod_template(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, Any]:
    return build_pod_template(resolved, group, group_config_hash(resolved, group))


def _volume_claim_template(group: ResolvedGroup) -> dict[str, Any]:
    """The PVC of each pod. A StatefulSet's claim templates can never change: keep this minimal and stable."""
    assert group.storage is not None
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": group.storage.size}},
    }
    if group.storage.storage_class_name:
        spec["storageClassName"] = group.storage.storage_class_name
    return {"metadata": {"name": DATA_VOLUME, "labels": dict(group.labels)}, "spec": spec}


def _statefulset(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(resolved, group.workload_name, group.labels),
        "spec": {
            "replicas": group.replicas,
            "serviceName": group.headless_service_name,
            "selector": {"matchLabels": dict(group.selector_labels)},
            # DataNodes and workers don't need to start one after another.
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            # Volumes go with the cluster; a scaled-down core node keeps its blocks until the cluster goes.
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
            "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
            "template": _pod_template(resolved, group),
            "volumeClaimTemplates": [_volume_claim_template(group)],
        },
    }


def build_master_statefulset(resolved: ResolvedCluster) -> dict[str, Any]:
    """One pod: Spark master + NameNode, the NameNode's metadata (and Spark's recovery state) on its PVC."""
    return _statefulset(resolved, resolved.master)


def build_core_statefulset(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, Any]:
    """A core group: Spark worker + DataNode per pod, a PVC per pod."""
    return _statefulset(resolved, group)


def build_task_deployment(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, Any]:
    """A task group: Spark worker only, scratch space in an emptyDir."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(resolved, group.workload_name, group.labels),
        "spec": {
            "replicas": group.replicas,
            "selector": {"matchLabels": dict(group.selector_labels)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
            "template": _pod_template(resolved, group),
        },
    }
