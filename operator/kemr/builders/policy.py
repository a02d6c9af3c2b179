"""PodDisruptionBudgets, the NetworkPolicy and the ServiceAccount of a cluster."""

from __future__ import annotations

import copy
from typing import Any

from kemr.api import constants as c
from kemr.builders.meta import object_meta
from kemr.resolve import ResolvedCluster, ResolvedGroup


def _pdb(resolved: ResolvedCluster, group: ResolvedGroup, max_unavailable: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": object_meta(resolved, group.workload_name, group.labels),
        "spec": {
            "maxUnavailable": max_unavailable,
            "selector": {"matchLabels": dict(group.selector_labels)},
            # A pod that is not running anyway must not block a node drain.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def build_pod_disruption_budgets(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    """The master is never evicted voluntarily (it is the cluster, as on EMR); core groups lose at most one
    pod at a time to drains and consolidation, so HDFS keeps a replica. Task groups have none: spot nodes go
    without asking."""
    return [_pdb(resolved, resolved.master, 0), *(_pdb(resolved, g, 1) for g in resolved.core_groups)]


def build_network_policy(resolved: ResolvedCluster) -> dict[str, Any] | None:
    """Ingress to every pod of the cluster (drivers included) only from the cluster's own pods (master, core,
    task, and its step drivers, all labelled kemr.io/cluster=<name>) and the declared clients."""
    if resolved.network_policy_name is None:
        return None

    def own_pods() -> dict[str, Any]:
        return {"matchLabels": {c.LABEL_CLUSTER: resolved.name}}

    peers = [
        {"podSelector": own_pods()},
        *(copy.deepcopy(dict(peer)) for peer in resolved.network_policy_peers),
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": object_meta(resolved, resolved.network_policy_name),
        "spec": {"podSelector": own_pods(), "policyTypes": ["Ingress"], "ingress": [{"from": peers}]},
    }


def build_service_account(resolved: ResolvedCluster) -> dict[str, Any] | None:
    """One per cluster, without an API token (the pods never call the Kubernetes API); none when the spec
    names an existing ServiceAccount (workload identity)."""
    if not resolved.create_service_account:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": object_meta(resolved, resolved.service_account_name),
        "automountServiceAccountToken": False,
    }
