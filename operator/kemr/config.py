"""The operator's own configuration: where on-demand and spot pods go, releases, images, daemon sizing.

Loaded once at start from a YAML file (`KEMR_CONFIG=/path/config.yaml`, or a path given to `load_config`);
every field has a default, so an operator without a file runs on Karpenter-labelled nodes with the built-in
releases. Keys are camelCase in the file, as in the CRDs:

```yaml
placement:
  preset: gke                  # karpenter (default) | gke | eks | aks | custom
  spot:                        # optional: replaces the preset's spot placement (required for custom)
    nodeSelector: {pool: spot}
    tolerations: [{key: pool, operator: Equal, value: spot, effect: NoSchedule}]
releases:
  kemr-1.0: {image: registry.internal/kemr-spark:kemr-1.0}   # air-gapped registry
imagePullPolicy: IfNotPresent
imagePullSecrets: [regcred]
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

CONFIG_ENV: Final = "KEMR_CONFIG"
PLACEMENT_PRESET_ENV: Final = "KEMR_PLACEMENT_PRESET"
IMAGE_REPOSITORY: Final = "ghcr.io/kemr-io/kemr-spark"
TRINO_IMAGE_REPOSITORY: Final = "ghcr.io/kemr-io/kemr-trino"
NOTEBOOK_IMAGE_REPOSITORY: Final = "ghcr.io/kemr-io/kemr-notebook"


class FrozenModel(BaseModel):
    """Immutable, camelCase in files, unknown keys rejected (a typo in the config must not pass silently)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


# --- placement -------------------------------------------------------------------------------------------


class PlacementPreset(StrEnum):
    """How capacity types map to node labels and taints, per platform."""

    KARPENTER = "karpenter"
    GKE = "gke"
    EKS = "eks"
    AKS = "aks"
    CUSTOM = "custom"


class Toleration(FrozenModel):
    """A pod toleration (core/v1 Toleration)."""

    key: str
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = None

    def to_k8s(self) -> dict[str, str]:
        return self.model_dump(by_alias=True, exclude_none=True)


class NodeSelectorRequirement(FrozenModel):
    """A node affinity match expression (core/v1 NodeSelectorRequirement)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def to_k8s(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.values:
            out["values"] = list(self.values)
        return out


class PreferredNodeTerm(FrozenModel):
    """A weighted node affinity preference."""

    weight: int = Field(ge=1, le=100)
    match_expressions: tuple[NodeSelectorRequirement, ...]


class CapacityPlacement(FrozenModel):
    """Where pods of one capacity type (on-demand or spot) go."""

    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    required_node_affinity: tuple[NodeSelectorRequirement, ...] = ()
    """ANDed match expressions every node must satisfy (e.g. "not a spot node" where on-demand nodes carry
    no label of their own)."""
    preferred_node_affinity: tuple[PreferredNodeTerm, ...] = ()

    def node_affinity(self) -> dict[str, Any] | None:
        """The pod's `affinity.nodeAffinity`, or None when this placement has no affinity."""
        affinity: dict[str, Any] = {}
        if self.required_node_affinity:
            affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
                "nodeSelectorTerms": [{"matchExpressions": [r.to_k8s() for r in self.required_node_affinity]}]
            }
        if self.preferred_node_affinity:
            affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {
                    "weight": p.weight,
                    "preference": {"matchExpressions": [r.to_k8s() for r in p.match_expressions]},
                }
                for p in self.preferred_node_affinity
            ]
        return affinity or None


def _spot_taint(key: str, value: str) -> Toleration:
    return Toleration(key=key, operator="Equal", value=value, effect="NoSchedule")


# The preset tables. Karpenter is also what the local test cluster's kwok nodes carry.
PRESETS: Final[Mapping[PlacementPreset, tuple[CapacityPlacement, CapacityPlacement]]] = {
    # (on-demand, spot)
    PlacementPreset.KARPENTER: (
        CapacityPlacement(node_selector={"karpenter.sh/capacity-type": "on-demand"}),
        CapacityPlacement(
            node_selector={"karpenter.sh/capacity-type": "spot"},
            tolerations=(_spot_taint("karpenter.sh/capacity-type", "spot"),),
        ),
    ),
    # GKE labels only Spot VMs; on-demand nodes are "not spot".
    PlacementPreset.GKE: (
        CapacityPlacement(
            required_node_affinity=(
                NodeSelectorRequirement(key="cloud.google.com/gke-spot", operator="NotIn", values=("true",)),
            )
        ),
        CapacityPlacement(
            node_selector={"cloud.google.com/gke-spot": "true"},
            tolerations=(_spot_taint("cloud.google.com/gke-spot", "true"),),
        ),
    ),
    # EKS managed node groups label both kinds and taint neither.
    PlacementPreset.EKS: (
        CapacityPlacement(node_selector={"eks.amazonaws.com/capacityType": "ON_DEMAND"}),
        CapacityPlacement(node_selector={"eks.amazonaws.com/capacityType": "SPOT"}),
    ),
    # AKS labels and taints only spot node pools.
    PlacementPreset.AKS: (
        CapacityPlacement(
            required_node_affinity=(
                NodeSelectorRequirement(
                    key="kubernetes.azure.com/scalesetpriority", operator="NotIn", values=("spot",)
                ),
            )
        ),
        CapacityPlacement(
            node_selector={"kubernetes.azure.com/scalesetpriority": "spot"},
            tolerations=(_spot_taint("kubernetes.azure.com/scalesetpriority", "spot"),),
        ),
    ),
}


class PlacementConfig(FrozenModel):
    """A preset, optionally with its on-demand and/or spot placement replaced."""

    preset: PlacementPreset = PlacementPreset.KARPENTER
    on_demand: CapacityPlacement | None = None
    spot: CapacityPlacement | None = None

    @model_validator(mode="after")
    def _custom_is_complete(self) -> PlacementConfig:
        if self.preset is PlacementPreset.CUSTOM and (self.on_demand is None or self.spot is None):
            raise ValueError("placement.preset custom needs both placement.onDemand and placement.spot")
        return self

    def for_on_demand(self) -> CapacityPlacement:
        if self.on_demand is not None:
            return self.on_demand
        return PRESETS[self.preset][0]

    def for_spot(self) -> CapacityPlacement:
        if self.spot is not None:
            return self.spot
        return PRESETS[self.preset][1]


# --- releases --------------------------------------------------------------------------------------------


class Release(FrozenModel):
    """What a release label pins, as an EMR release label does."""

    spark_version: str
    """Spark of the master, workers and drivers."""
    hadoop_version: str
    """Hadoop of the HDFS daemons and the `hadoop`/`hdfs` commands."""
    spark_hadoop_version: str
    """Hadoop client bundled with Spark: hadoop-aws on Spark's classpath must be this version."""
    java_version: str = "17"
    scala_version: str = "2.12"
    image: str | None = None
    """The data-plane image; `ghcr.io/kemr-io/kemr-spark:<release>` when unset."""
    trino_version: str = "476"
    """Trino of the coordinator, workers and `trino` step drivers (it needs Java 24+: its own image)."""
    trino_image: str | None = None
    """The Trino image; `ghcr.io/kemr-io/kemr-trino:<release>` when unset."""
    notebook_image: str | None = None
    """The EMRNotebooks' JupyterLab image (the release's Spark, with JupyterLab and its kernels);
    `ghcr.io/kemr-io/kemr-notebook:<release>` when unset. A notebook runs its cluster's release."""
    s3_static_credentials_provider: str = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"
    """S3A credentials provider reading AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (from the Secret)."""
    s3_workload_identity_credentials_provider: str = "com.amazonaws.auth.DefaultAWSCredentialsProviderChain"
    """S3A credentials provider for a workload-identity ServiceAccount (web identity token, then the rest of
    the AWS SDK's chain)."""

    def image_or_default(self, label: str) -> str:
        return self.image or f"{IMAGE_REPOSITORY}:{label}"

    def trino_image_or_default(self, label: str) -> str:
        return self.trino_image or f"{TRINO_IMAGE_REPOSITORY}:{label}"

    def notebook_image_or_default(self, label: str) -> str:
        return self.notebook_image or f"{NOTEBOOK_IMAGE_REPOSITORY}:{label}"


class ReleaseOverride(FrozenModel):
    """A release entry in the config file: overrides fields of a built-in release, or defines a new one."""

    spark_version: str | None = None
    hadoop_version: str | None = None
    spark_hadoop_version: str | None = None
    java_version: str | None = None
    scala_version: str | None = None
    image: str | None = None
    trino_version: str | None = None
    trino_image: str | None = None
    notebook_image: str | None = None
    s3_static_credentials_provider: str | None = None
    s3_workload_identity_credentials_provider: str | None = None


BUILTIN_RELEASES: Final[Mapping[str, Release]] = {
    # Spark 3.5 is built against Hadoop 3.3.4; the daemons run Hadoop 3.3.6, the newest 3.3 (same AWS SDK v1
    # generation as Spark's S3A, so credential provider class names are the same on both classpaths).
    "kemr-1.0": Release(spark_version="3.5.9", hadoop_version="3.3.6", spark_hadoop_version="3.3.4"),
}


# --- daemon sizing ---------------------------------------------------------------------------------------


class Sizing(FrozenModel):
    """How a pod's CPU and memory are split between its daemons and the Spark executors.

    Memory is requests = limits per container; CPU is a request only (no limit: executors may burst).
    """

    master_spark_memory_fraction: float = Field(default=0.5, gt=0, lt=1)
    """Share of the master pod's memory for the Spark master (the rest is the NameNode's)."""
    datanode_memory_fraction: float = Field(default=0.125, gt=0, lt=1)
    """Share of a core pod's memory for the DataNode, within datanodeMinMemoryMib..datanodeMaxMemoryMib."""
    datanode_min_memory_mib: int = Field(default=512, ge=256)
    datanode_max_memory_mib: int = Field(default=2048, ge=256)
    datanode_cpu_fraction: float = Field(default=0.125, gt=0, lt=1)
    """Share of a core pod's CPU request for the DataNode (at least 100m)."""
    jvm_heap_fraction: float = Field(default=0.75, gt=0, lt=1)
    """JVM heap (-Xmx) of a daemon as a share of its container's memory."""
    worker_daemon_memory_mib: int = Field(default=512, ge=256)
    """Memory kept for the Spark worker daemon itself (heap is half of it)."""
    executor_memory_fraction: float = Field(default=0.8, gt=0, le=1)
    """Share of the rest of the worker container offered to executors (SPARK_WORKER_MEMORY); the remainder is
    headroom for executors' off-heap memory and Python workers."""
    min_executor_memory_mib: int = Field(default=512, ge=128)
    """A worker offering less than this to executors is a spec error (resources too small)."""
    trino_coordinator_memory_fraction: float = Field(default=0.5, gt=0, lt=1)
    """With Trino: the coordinator's share of what the master's other daemons (HDFS NameNode, Hive metastore)
    leave; the Spark master gets the rest. CPU is split the same way."""
    trino_worker_memory_fraction: float = Field(default=0.5, gt=0, lt=1)
    """With Trino: a Trino worker's share of what a core or task pod's DataNode (if any) leaves; the Spark
    worker gets the rest. CPU is split the same way."""


# --- the whole config ------------------------------------------------------------------------------------


class OperatorConfig(FrozenModel):
    """The operator's configuration."""

    placement: PlacementConfig = Field(default_factory=PlacementConfig)
    releases: dict[str, ReleaseOverride] = Field(default_factory=dict)
    """Overrides of the built-in releases (e.g. the image, for an air-gapped registry), or new releases."""
    image_pull_policy: str = Field(default="IfNotPresent", pattern=r"^(Always|IfNotPresent|Never)$")
    image_pull_secrets: tuple[str, ...] = ()
    """Secrets (in each cluster's namespace) to pull the data-plane image with."""
    sizing: Sizing = Field(default_factory=Sizing)
    driver_start_timeout_seconds: int = Field(default=600, ge=30, le=86400)
    """How long a step's driver pod may take to start (be scheduled, get its image, run its container) before
    the attempt ends with DRIVER_START_FAILURE (counted like a failed attempt against retry.maxAttempts).
    Seconds; default 600. While it waits, the step's stateChangeReason says why, in the scheduler's or the
    kubelet's own words."""
    cluster_provisioning_timeout_seconds: int = Field(default=900, ge=60, le=86400)
    """How long a new cluster's master and core nodes may take to become ready before it ends
    TERMINATED_WITH_ERRORS (INSTANCE_FAILURE) with what its pods reported. Seconds from creation; default 900.
    A bootstrap action that exits non-zero ends it at once (BOOTSTRAP_FAILURE), as on EMR."""
    operator_peer: dict[str, Any] | None = None
    """A NetworkPolicy peer (podSelector/namespaceSelector) for the operator itself, added to every cluster's
    NetworkPolicy when the operator must reach the Spark master's REST/UI (managed scaling)."""

    @model_validator(mode="after")
    def _new_releases_are_complete(self) -> OperatorConfig:
        for label in self.releases:
            self.release(label)  # raises on an incomplete new release
        return self

    def release(self, label: str) -> Release:
        """The release `label`: the built-in one with the config's overrides applied. KeyError if unknown."""
        override = self.releases.get(label)
        base = BUILTIN_RELEASES.get(label)
        if override is None:
            if base is None:
                raise KeyError(label)
            return base
        fields = override.model_dump(exclude_none=True)
        if base is None:
            try:
                return Release(**fields)
            except ValueError as err:
                raise ValueError(f"releases.{label}: a new release needs every version field: {err}") from err
        return base.model_copy(update=fields)

    def release_labels(self) -> list[str]:
        return sorted({*BUILTIN_RELEASES, *self.releases})


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> OperatorConfig:
    """The configuration from `path`, else from the file `$KEMR_CONFIG`, else the defaults.

    `$KEMR_PLACEMENT_PRESET` overrides `placement.preset` (handy in a Helm chart's values).
    """
    env = os.environ if environ is None else environ
    source = path if path is not None else env.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    if source is not None:
        loaded = yaml.safe_load(Path(source).read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{source}: the operator configuration must be a YAML mapping")
        data = loaded or {}
    preset = env.get(PLACEMENT_PRESET_ENV)
    if preset:
        placement = dict(data.get("placement") or {})
        placement["preset"] = preset
        data = {**data, "placement": placement}
    return OperatorConfig.model_validate(data)
