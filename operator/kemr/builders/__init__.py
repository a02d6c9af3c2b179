"""Builders: a resolved cluster in, its children out as plain dicts (Kubernetes manifests as data). Pure.

`build_children(resolved)` is what the controller applies; the per-kind builders are public for tests and
for the drivers' pods, which share the pods' volumes, environment and bootstrap actions (see `pod`).
"""

from __future__ import annotations

from typing import Any

from kemr.builders.configmap import (
    build_client_config_map,
    build_config_maps,
    build_group_config_map,
    build_scripts_config_map,
)
from kemr.builders.policy import build_network_policy, build_pod_disruption_budgets, build_service_account
from kemr.builders.service import build_services
from kemr.builders.workloads import (
    build_core_statefulset,
    build_master_statefulset,
    build_task_deployment,
    group_config_hash,
)
from kemr.resolve import ResolvedCluster


def build_children(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    """Every child of the cluster, in the order to create them: what pods need exists before the pods."""
    optional = [build_service_account(resolved), build_network_policy(resolved)]
    return [
        *(obj for obj in optional if obj is not None),
        *build_config_maps(resolved),
        *build_services(resolved),
        *build_pod_disruption_budgets(resolved),
        build_master_statefulset(resolved),
        *(build_core_statefulset(resolved, group) for group in resolved.core_groups),
        *(build_task_deployment(resolved, group) for group in resolved.task_groups),
        *(build_task_deployment(resolved, group) for group in resolved.fallback_groups),
    ]


__all__ = [
    "build_children",
    "build_client_config_map",
    "build_config_maps",
    "build_core_statefulset",
    "build_group_config_map",
    "build_master_statefulset",
    "build_network_policy",
    "build_pod_disruption_budgets",
    "build_scripts_config_map",
    "build_service_account",
    "build_services",
    "build_task_deployment",
    "group_config_hash",
]
