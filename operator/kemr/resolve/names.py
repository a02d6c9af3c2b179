"""Names and labels of a cluster's children, all derived from the cluster's name.

| object                         | name                                  |
|--------------------------------|---------------------------------------|
| master StatefulSet, PDB        | `<cluster>-master`                    |
| master client Service          | `<cluster>-master` (spark://, web UI, the applications' ports) |
| master headless Service        | `<cluster>-master-headless`           |
| core StatefulSet, its headless Service, PDB | `<cluster>-core-<group>` |
| task Deployment                | `<cluster>-task-<group>`              |
| spot fallback Deployment       | `<cluster>-task-<group>-od`           |
| ConfigMaps                     | `<workload>-config`, `<cluster>-client-config`, `<cluster>-scripts` |
| ServiceAccount                 | `<cluster>-sa`                        |
| NetworkPolicy                  | `<cluster>`                           |

An application's own ConfigMaps are named by its module (kemr.applications).
"""

from __future__ import annotations

import re
from typing import Final

from kemr.api import constants as c
from kemr.resolve.errors import ResolveError

# A StatefulSet's pods carry `controller-revision-hash: <name>-<10 chars>`, a label value (<= 63): so 52.
# Deployments are held to the same limit (their pods' hostnames are cut at 63 otherwise).
MAX_WORKLOAD_NAME_LENGTH: Final = 52
MAX_DNS_LABEL_LENGTH: Final = 63
MAX_SUBDOMAIN_LENGTH: Final = 253
_DNS_1035 = re.compile(c.DNS_1035_LABEL_PATTERN)
_DNS_1123 = re.compile(c.DNS_1123_LABEL_PATTERN)

LABEL_COMPONENT: Final = "app.kubernetes.io/component"
APP_NAME: Final = "kemr"
CONFIG_HASH_ANNOTATION: Final = "kemr.io/config-hash"


def master_name(cluster: str) -> str:
    return f"{cluster}-{c.ROLE_MASTER}"


def master_headless_name(cluster: str) -> str:
    return f"{cluster}-{c.ROLE_MASTER}-headless"


def group_workload_name(cluster: str, role: str, group: str) -> str:
    """`<cluster>-core-<group>` / `<cluster>-task-<group>`; `<cluster>-master` for the master."""
    return master_name(cluster) if role == c.ROLE_MASTER else f"{cluster}-{role}-{group}"


def fallback_workload_name(task_workload: str) -> str:
    """`<cluster>-task-<group>-od`: a spot task group's on-demand stand-in. It may pass the 52 characters of
    the other workloads: a Deployment's pods are labelled with a hash, not with its name."""
    return f"{task_workload}-od"


def config_map_name(workload: str) -> str:
    return f"{workload}-config"


def client_config_map_name(cluster: str) -> str:
    return f"{cluster}-client-config"


def scripts_config_map_name(cluster: str) -> str:
    return f"{cluster}-scripts"


def service_account_name(cluster: str) -> str:
    return f"{cluster}-sa"


def network_policy_name(cluster: str) -> str:
    return cluster


def check_cluster_name(cluster: str) -> None:
    """The cluster's name prefixes Services (DNS-1035) and StatefulSets (<= 52 with their suffixes)."""
    if len(cluster) > c.MAX_CLUSTER_NAME_LENGTH:
        raise ResolveError(
            "metadata.name",
            f"{cluster!r} is {len(cluster)} characters long; an EMRCluster's name may have at most "
            f"{c.MAX_CLUSTER_NAME_LENGTH} (it prefixes the names of its StatefulSets, Services and pods)",
        )
    if not _DNS_1035.match(cluster):
        raise ResolveError(
            "metadata.name",
            f"{cluster!r} must be a DNS-1035 label (lowercase letters, digits and '-', starting with a"
            " letter): it prefixes the cluster's Service names",
        )


def check_workload_name(name: str, field: str) -> None:
    """A StatefulSet/Deployment name the cluster and group names add up to."""
    if len(name) > MAX_WORKLOAD_NAME_LENGTH or not _DNS_1123.match(name):
        raise ResolveError(
            field,
            f"the child name {name!r} is {len(name)} characters long; it may have at most "
            f"{MAX_WORKLOAD_NAME_LENGTH}: shorten the group name or the cluster name",
        )


def cluster_labels(cluster: str) -> dict[str, str]:
    """Labels on every child: the apply layer selects the cluster's children by them."""
    return {
        c.LABEL_NAME: APP_NAME,
        c.LABEL_INSTANCE: cluster,
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
        c.LABEL_CLUSTER: cluster,
    }


def selector_labels(cluster: str, role: str, group: str) -> dict[str, str]:
    """What a workload's selector matches (immutable once created, so as few labels as identify the group)."""
    return {c.LABEL_CLUSTER: cluster, c.LABEL_ROLE: role, c.LABEL_GROUP: group}


def group_labels(cluster: str, role: str, group: str) -> dict[str, str]:
    """Labels on a group's workload, pods, ConfigMap, Services, PDB and PVCs."""
    return {**cluster_labels(cluster), LABEL_COMPONENT: role, c.LABEL_ROLE: role, c.LABEL_GROUP: group}
