"""What resolving produces: every derived fact the builders need, computed once, immutable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kemr.api import Application, BootstrapAction, CapacityType
from kemr.api import constants as c
from kemr.applications.base import ConfigFile, ContainerSize, Env, Port
from kemr.config import Release
from kemr.resolve.layers import LayersView

__all__ = ["ContainerSize"]  # defined with the applications' declarations, which size their daemons


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
class ResolvedDaemon:
    """A daemon container of a group's pods, as an application declared it (kemr.applications), sized."""

    name: str
    image: str
    entrypoint: str  # its script in the scripts ConfigMap
    ports: tuple[Port, ...]  # published by the group's Services too
    liveness_port: int
    env: Env  # its own, after every container's
    size: ContainerSize
    heap_mib: int
    mounts: tuple[tuple[str, str, bool], ...] = ()  # (volume, path, read-only) beside the shared ones
    pre_stop: str | None = None  # script of its preStop hook
    init: str | None = None  # script of its init container, run after the bootstrap actions


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
    daemons: tuple[ResolvedDaemon, ...]  # the enabled applications' containers, in registry order
    volumes: tuple[tuple[str, str], ...]  # (volume, ConfigMap) of the applications' own ConfigMaps it mounts
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
    def ports(self) -> tuple[Port, ...]:
        """Every port its daemons listen on, in container order: what its Services publish."""
        return tuple(port for daemon in self.daemons for port in daemon.ports)


@dataclass(frozen=True)
class Endpoints:
    """Addresses of the cluster's services, from inside the Kubernetes cluster."""

    master: str  # spark://<cluster>-master.<ns>.svc:7077
    web_ui: str  # http://<cluster>-master.<ns>.svc:8080
    urls: Mapping[str, str]  # every enabled application's, by the name its module gives
    status: Mapping[str, str]  # those reported in status.endpoints, by field (alias)


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
    applications: tuple[Application, ...]  # enabled, in registry order
    images: Mapping[
        Application, str
    ]  # every registered application's image (spec.images, else the release's)
    image_pull_policy: str
    image_pull_secrets: tuple[str, ...]
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
    # The enabled applications' configuration files and own ConfigMaps (name, data).
    config_files: tuple[ConfigFile, ...] = ()
    application_env: Env = ()  # every container's, from the enabled applications (KEMR_SPARK_MASTER_URL...)
    config_maps: tuple[tuple[str, Mapping[str, str]], ...] = ()

    @property
    def spark_image(self) -> str:
        """The image of bootstrap actions and drivers: Spark's."""
        return self.images[Application.SPARK]

    @property
    def notebook_image(self) -> str:
        """The image of the EMRNotebooks attached to the cluster: its release's JupyterLab image."""
        return self.release.notebook_image_or_default(self.release_label)

    @property
    def groups(self) -> tuple[ResolvedGroup, ...]:
        """Master, core groups, task groups: the order children are built in."""
        return (self.master, *self.core_groups, *self.task_groups)

    def group(self, role: str, name: str) -> ResolvedGroup:
        for group in self.groups:
            if group.role == role and group.name == name:
                return group
        raise KeyError(f"{role} group {name!r}")
