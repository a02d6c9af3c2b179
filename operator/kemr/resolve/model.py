"""What resolving produces: every derived fact the builders need, computed once, immutable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kemr.api import BootstrapAction, CapacityType
from kemr.api import constants as c
from kemr.config import Release
from kemr.resolve.layers import LayersView


@dataclass(frozen=True)
class ContainerSize:
    """Memory is request = limit; CPU a request only."""

    cpu_millis: int
    memory_mib: int


@dataclass(frozen=True)
class Placement:
    """Where a group's pods go: from the operator's placement preset for the group's capacity type."""

    capacity_type: CapacityType
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, str], ...]
    node_affinity: Mapping[str, Any] | None


@dataclass(frozen=True)
class Storage:
    """A PVC per pod."""

    size: str
    storage_class_name: str | None


@dataclass(frozen=True)
class ResolvedGroup:
    """The master, a core group or a task group, resolved."""

    role: str  # c.ROLE_MASTER | c.ROLE_CORE | c.ROLE_TASK
    name: str  # the group's name; "master" for the master
    field: str  # where it is in the spec: "spec.master", "spec.coreGroups[0]"
    workload_name: str  # StatefulSet / Deployment
    headless_service_name: str | None  # the StatefulSet's governing Service (None for task groups)
    config_map_name: str
    replicas: int
    placement: Placement
    labels: Mapping[str, str]
    selector_labels: Mapping[str, str]
    pod: ContainerSize  # the whole pod, as the spec says
    spark: ContainerSize  # spark-master or spark-worker container
    hdfs: ContainerSize | None  # namenode or datanode container; None without HDFS or for task groups
    spark_daemon_heap_mib: int
    hdfs_heap_mib: int | None
    worker_cores: int | None  # what a worker offers executors (None for the master)
    worker_memory_mib: int | None
    storage: Storage | None  # None for task groups (an emptyDir instead)
    configuration: LayersView  # the final files' properties, per classification
    pod_overrides: tuple[Mapping[str, Any], ...]  # cluster-wide, then the group's
    # A spot task group's on-demand stand-in (spot fallback): the spot group's name, else None.
    fallback_for: str | None = None

    @property
    def is_master(self) -> bool:
        return self.role == c.ROLE_MASTER

    @property
    def runs_hdfs(self) -> bool:
        return self.hdfs is not None


@dataclass(frozen=True)
class Endpoints:
    """Addresses of the cluster's services, from inside the Kubernetes cluster."""

    master: str  # spark://<cluster>-master.<ns>.svc:7077
    web_ui: str  # http://<cluster>-master.<ns>.svc:8080
    hdfs: str | None  # hdfs://<cluster>-master.<ns>.svc:8020, None without HDFS
    namenode_ui: str | None


@dataclass(frozen=True)
class S3Settings:
    """S3 access as environment (credentials, region, endpoint for AWS tools) and core-site properties."""

    env: tuple[Mapping[str, Any], ...]
    core_site: Mapping[str, str]


@dataclass(frozen=True)
class ResolvedCluster:
    """An EMRCluster with every derived fact the builders need."""

    name: str
    namespace: str
    uid: str
    release_label: str
    release: Release
    spark_image: str
    hdfs_image: str
    image_pull_policy: str
    image_pull_secrets: tuple[str, ...]
    hdfs_enabled: bool
    hdfs_cluster_id: str
    hdfs_replication: int | None
    labels: Mapping[str, str]  # on every child
    owner_reference: Mapping[str, Any]
    master_service_name: str  # client Service
    scripts_config_map_name: str
    client_config_map_name: str
    service_account_name: str
    create_service_account: bool  # False when the spec names an existing one (workload identity)
    network_policy_name: str | None  # None when spec.networkPolicy.enabled is false
    network_policy_peers: tuple[
        Mapping[str, Any], ...
    ]  # allowedClients and the operator, as NetworkPolicy peers
    endpoints: Endpoints
    master: ResolvedGroup
    core_groups: tuple[ResolvedGroup, ...]
    task_groups: tuple[ResolvedGroup, ...]
    client_configuration: LayersView  # drivers' files (spark-submit in client mode)
    s3: S3Settings
    log_uri: str | None  # the cluster's own prefix under spec.logUri, s3a://, ends with "/"
    event_log_dir: str | None
    bootstrap_actions: tuple[BootstrapAction, ...]
    # On-demand stand-ins of spot task groups whose pods can't be scheduled (spot fallback).
    fallback_groups: tuple[ResolvedGroup, ...] = ()
    # DataNodes being decommissioned (dfs.hosts.exclude), and their ConfigMap (None without HDFS).
    hdfs_exclude: tuple[str, ...] = ()
    hdfs_exclude_config_map_name: str | None = None

    @property
    def groups(self) -> tuple[ResolvedGroup, ...]:
        """Master, core groups, task groups: the order children are built in."""
        return (self.master, *self.core_groups, *self.task_groups)

    def group(self, role: str, name: str) -> ResolvedGroup:
        for group in self.groups:
            if group.role == role and group.name == name:
                return group
        raise KeyError(f"{role} group {name!r}")
