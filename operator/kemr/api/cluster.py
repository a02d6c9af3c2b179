"""EMRCluster: an ephemeral Spark + HDFS data cluster laid out as EMR lays it out (master, core, task)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from kemr.api.base import KemrModel, cel, cel_rules, immutable, list_map, validations
from kemr.api.common import (
    MAX_ARG_LENGTH,
    MAX_ARGS,
    MAX_URI_LENGTH,
    Conditions,
    Configurations,
    LabelSelector,
    PodOverrides,
    Resources,
    Storage,
)
from kemr.api.constants import (
    DEFAULT_RELEASE,
    DNS_1035_LABEL_PATTERN,
    DNS_1123_LABEL_PATTERN,
    MAX_CATALOG_NAME_LENGTH,
    MAX_GROUP_NAME_LENGTH,
)
from kemr.api.step import InlineStep

MAX_CORE_GROUPS = 10
MAX_TASK_GROUPS = 50
MAX_INLINE_STEPS = 64
S3_URI_PATTERN = r"^s3a?://[^/\s]+(/\S*)?$"

GroupName = Annotated[str, Field(max_length=MAX_GROUP_NAME_LENGTH, pattern=DNS_1123_LABEL_PATTERN)]


class Application(StrEnum):
    """An application the cluster runs."""

    SPARK = "Spark"
    HDFS = "HDFS"
    HIVE = "Hive"
    TRINO = "Trino"


class CapacityType(StrEnum):
    """Kind of nodes a group's pods run on. How they map to node labels and tolerations is operator
    configuration (presets for Karpenter, GKE, EKS, AKS)."""

    SPOT = "spot"
    ON_DEMAND = "on-demand"


class ApplicationImages(KemrModel):
    """Container images per application, overriding the release's (e.g. for an air-gapped registry)."""

    spark: str | None = Field(default=None, alias="Spark", max_length=512)
    """Image of the Spark master, workers and drivers."""
    hdfs: str | None = Field(default=None, alias="HDFS", max_length=512)
    """Image of the HDFS NameNode and DataNodes."""
    trino: str | None = Field(default=None, alias="Trino", max_length=512)
    """Image of the Trino coordinator, workers and `trino` step drivers (the release's Trino image when
    unset: it runs on a newer Java than Spark's)."""


class MasterSpec(KemrModel):
    """The master node: Spark standalone master and HDFS NameNode, on on-demand capacity."""

    resources: Resources = Field(default_factory=Resources)
    """CPU and memory of the master pod."""
    storage: Storage = Field(
        default_factory=lambda: Storage(size="10Gi"),
        json_schema_extra=validations(
            immutable("spec.master.storage", "create a new cluster to change the NameNode's volume")
        ),
    )
    """The NameNode metadata volume. Immutable."""
    pod_overrides: PodOverrides = None
    """Merged into the master's pod template, after the cluster-wide podOverrides."""


class CoreGroup(KemrModel):
    """A group of core nodes: Spark worker + HDFS DataNode with a volume per pod, on on-demand capacity
    (a StatefulSet)."""

    name: GroupName
    """Group name, unique among core and task groups; children are named `<cluster>-<name>`."""
    replicas: int = Field(default=1, ge=1, le=500)
    """Number of core nodes, 1 .. 500. Changes apply in place (scaling down decommissions DataNodes)."""
    resources: Resources = Field(default_factory=Resources)
    """CPU and memory of each core pod."""
    storage: Storage = Field(
        default_factory=lambda: Storage(size="50Gi"),
        json_schema_extra=validations(
            immutable("spec.coreGroups[].storage", "add a new core group with the storage you want")
        ),
    )
    """HDFS DataNode volume of each pod. Immutable."""
    configurations: Configurations = Field(default_factory=list)
    """Configuration overrides for this group, on top of the cluster's configurations."""
    pod_overrides: PodOverrides = None
    """Merged into this group's pod template, after the cluster-wide podOverrides."""


class SpotFallback(KemrModel):
    """Run on on-demand capacity when spot capacity can't be had."""

    after_seconds: int = Field(default=300, ge=0, le=86400)
    """Seconds a pod may stay unschedulable on spot before the group falls back to on-demand, 0 .. 86400."""


class TaskGroup(KemrModel):
    """A group of task nodes: Spark worker only, no HDFS, spot by default (a Deployment)."""

    model_config = cel_rules(
        cel(
            "self.minReplicas <= self.maxReplicas",
            "minReplicas must be less than or equal to maxReplicas",
            field_path=".minReplicas",
        ),
        cel(
            "!has(self.replicas) || (self.replicas >= self.minReplicas && self.replicas <= self.maxReplicas)",
            "replicas must be between minReplicas and maxReplicas",
            field_path=".replicas",
        ),
        cel(
            "!has(self.spotFallback) || self.capacityType == 'spot'",
            "spotFallback only applies to capacityType spot: remove it or set capacityType: spot",
            field_path=".spotFallback",
        ),
    )

    name: GroupName
    """Group name, unique among core and task groups; children are named `<cluster>-<name>`."""
    capacity_type: CapacityType = CapacityType.SPOT
    """spot (default) or on-demand."""
    min_replicas: int = Field(default=0, ge=0, le=1000)
    """Fewest task nodes managed scaling keeps, >= 0."""
    max_replicas: int = Field(ge=1, le=1000)
    """Most task nodes managed scaling adds, 1 .. 1000."""
    replicas: int | None = Field(default=None, ge=0, le=1000)
    """Task nodes to run when managed scaling is off (default: minReplicas); the initial size when it
    is on."""
    resources: Resources = Field(default_factory=Resources)
    """CPU and memory of each task pod."""
    spot_fallback: SpotFallback | None = None
    """Fall back to on-demand capacity when spot capacity can't be had."""
    configurations: Configurations = Field(default_factory=list)
    """Configuration overrides for this group, on top of the cluster's configurations."""
    pod_overrides: PodOverrides = None
    """Merged into this group's pod template, after the cluster-wide podOverrides."""


class ManagedScaling(KemrModel):
    """Resize task groups between minReplicas and maxReplicas from the Spark applications' demand."""

    enabled: bool = False
    """Turn managed scaling on."""
    cooldown_seconds: int = Field(default=60, ge=0, le=3600)
    """Seconds between two scaling decisions for a group, 0 .. 3600."""
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    """Seconds demand must stay low before nodes are removed, 0 .. 3600."""


class AutoTermination(KemrModel):
    """When the cluster terminates by itself."""

    keep_alive_when_no_steps: bool = True
    """false makes a transient cluster: it terminates after its last step (reason ALL_STEPS_COMPLETED)."""
    idle_timeout_seconds: int | None = Field(default=None, ge=60, le=604800)
    """Terminate after this many seconds without a running or pending step (reason IDLE_TIMEOUT),
    60 .. 604800."""
    max_lifetime_seconds: int | None = Field(default=None, ge=60, le=31536000)
    """Terminate this many seconds after creation, whatever runs (reason MAX_LIFETIME), 60 .. 31536000."""


class BootstrapAction(KemrModel):
    """A script run on every node before the daemons start, also on nodes added later (an init container)."""

    name: str = Field(max_length=40, pattern=DNS_1123_LABEL_PATTERN)
    """Action name, unique in the cluster."""
    script: str = Field(max_length=MAX_URI_LENGTH, pattern=r"^(s3a?://[^/\s]+/\S+|/\S+)$")
    """The script: s3a:// or s3:// object, or an absolute path in the image."""
    args: list[Annotated[str, Field(max_length=MAX_ARG_LENGTH)]] = Field(
        default_factory=list, max_length=MAX_ARGS
    )
    """Arguments passed to the script."""


class S3SecretRef(KemrModel):
    """A Secret in the cluster's namespace holding static S3 credentials."""

    name: str = Field(max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    """Name of the Secret."""
    access_key_id_key: str = Field(default="AWS_ACCESS_KEY_ID", max_length=253)
    """Key of the access key id in the Secret."""
    secret_access_key_key: str = Field(default="AWS_SECRET_ACCESS_KEY", max_length=253)
    """Key of the secret access key in the Secret."""
    session_token_key: str | None = Field(default=None, max_length=253)
    """Key of a session token in the Secret, for temporary credentials."""


class S3Credentials(KemrModel):
    """Where pods get S3 credentials: exactly one of secretRef or serviceAccountName."""

    model_config = cel_rules(
        cel(
            "has(self.secretRef) != has(self.serviceAccountName)",
            "set exactly one of s3.credentials.secretRef or s3.credentials.serviceAccountName",
        )
    )

    secret_ref: S3SecretRef | None = None
    """Static credentials from a Secret."""
    service_account_name: str | None = Field(
        default=None, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
    )
    """An existing ServiceAccount the cluster's pods and drivers run as, for workload identity (IRSA, GKE
    Workload Identity, Azure Workload Identity)."""


class S3Spec(KemrModel):
    """Access to S3 or an S3-compatible store, through Hadoop's S3A (s3:// URIs are read through S3A too)."""

    endpoint: str | None = Field(default=None, max_length=MAX_URI_LENGTH, pattern=r"^https?://\S+$")
    """Endpoint URL of an S3-compatible store; AWS S3 when unset."""
    region: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9-]+$")
    """Region of the buckets."""
    path_style_access: bool = False
    """Address buckets as <endpoint>/<bucket> rather than <bucket>.<endpoint> (most S3-compatible stores)."""
    credentials: S3Credentials | None = None
    """Credentials; when unset, S3A's default chain (environment, instance profile)."""


class CatalogRef(KemrModel):
    """A DataCatalog in the cluster's namespace: the Hive metastore the cluster's Spark uses."""

    name: str = Field(max_length=MAX_CATALOG_NAME_LENGTH, pattern=DNS_1035_LABEL_PATTERN)
    """Name of the DataCatalog."""


class NetworkPeer(KemrModel):
    """Pods allowed to reach the cluster, as a NetworkPolicy peer: podSelector alone selects pods of the
    cluster's namespace, namespaceSelector alone every pod of the selected namespaces, both the selected
    pods of the selected namespaces."""

    model_config = cel_rules(
        cel(
            "has(self.podSelector) || has(self.namespaceSelector)",
            "set podSelector, namespaceSelector or both",
        )
    )

    pod_selector: LabelSelector | None = None
    """Selects pods."""
    namespace_selector: LabelSelector | None = None
    """Selects namespaces."""


class NetworkPolicySpec(KemrModel):
    """The NetworkPolicy that admits only the cluster's own pods, its step drivers and declared clients."""

    enabled: bool = True
    """Create the NetworkPolicy."""
    allowed_clients: list[NetworkPeer] = Field(default_factory=list, max_length=32)
    """Other pods allowed to reach the cluster's services (Spark master, web UIs, HDFS, Trino)."""


# Cluster-wide rules on the spec.
_SPEC_RULES = [
    cel(
        "self.stepConcurrency <= 1 || !has(self.steps)"
        " || self.steps.all(s, !has(s.actionOnFailure) || s.actionOnFailure == 'CONTINUE')",
        "with stepConcurrency > 1 every step's actionOnFailure must be CONTINUE:"
        " set stepConcurrency to 1 or the steps' actionOnFailure to CONTINUE",
        field_path=".steps",
    ),
    cel(
        "!has(self.coreGroups) || !has(self.taskGroups)"
        " || self.coreGroups.all(c, self.taskGroups.all(t, t.name != c.name))",
        "group names must be unique across coreGroups and taskGroups: rename the task group",
        field_path=".taskGroups",
    ),
    cel(
        "!(self.terminate && self.terminationProtected)",
        "a termination-protected cluster cannot be terminated: set spec.terminationProtected to false first",
        field_path=".terminate",
        reason="FieldValueForbidden",
    ),
    cel(
        "!('HDFS' in self.applications) || !has(self.configurations) || self.configurations.all(c,"
        " c.classification != 'hdfs-site' || !has(c.properties) || !('dfs.replication' in c.properties)"
        " || !c.properties['dfs.replication'].matches('^[0-9]{1,4}$')"
        " || int(c.properties['dfs.replication'])"
        " <= (has(self.coreGroups) ? self.coreGroups.map(g, g.replicas).sum() : 0))",
        "the core groups' replicas add up to fewer nodes than hdfs-site dfs.replication: HDFS could not keep"
        " every block's replicas (and a DataNode decommission would never finish); keep the sum of"
        " spec.coreGroups[].replicas at least dfs.replication, or lower dfs.replication",
        field_path=".coreGroups",
    ),
    cel(
        "has(self.catalog) == has(oldSelf.catalog)",
        "spec.catalog can't be added or removed once the cluster exists: its tables live in the metastore it"
        " started with; create a new cluster",
        field_path=".catalog",
        reason="FieldValueForbidden",
    ),
    cel(
        "!has(self.catalog) || 'Hive' in self.applications",
        "spec.catalog is the Hive metastore of the cluster: add Hive to spec.applications, or remove"
        " spec.catalog",
        field_path=".catalog",
    ),
    cel(
        "!('Trino' in self.applications) || 'Hive' in self.applications",
        "Trino's hive catalog is the cluster's Hive metastore: add Hive to spec.applications (with"
        " spec.catalog for tables that outlive the cluster), or remove Trino",
        field_path=".applications",
    ),
    cel(
        "!('HDFS' in self.applications) || (has(self.coreGroups) && size(self.coreGroups) > 0)",
        "HDFS needs at least one core group (its DataNodes): add one to coreGroups or remove HDFS from"
        " applications",
        field_path=".coreGroups",
        reason="FieldValueRequired",
    ),
]


class EMRClusterSpec(KemrModel):
    """An EMR-style data cluster: a master (Spark master + HDFS NameNode), core groups (Spark workers + HDFS
    DataNodes) and task groups (Spark workers, spot by default), running EMRSteps."""

    model_config = cel_rules(*_SPEC_RULES)

    release: str = Field(
        default=DEFAULT_RELEASE,
        max_length=32,
        pattern=r"^kemr-\d+\.\d+$",
        json_schema_extra=validations(immutable("spec.release", "create a new cluster on the new release")),
    )
    """Release label pinning the Spark and Hadoop versions and images, as an EMR release label. Immutable."""
    applications: list[Application] = Field(
        default_factory=lambda: [Application.SPARK, Application.HDFS],
        min_length=1,
        max_length=len(Application),
        json_schema_extra={
            "x-kubernetes-list-type": "set",
            "default": [Application.SPARK.value, Application.HDFS.value],
            **validations(
                cel("'Spark' in self", "applications must include Spark"),
                immutable("spec.applications", "create a new cluster with the applications you want"),
            ),
        },
    )
    """Applications to run: Spark, and optionally HDFS, Hive (a Hive metastore for Spark SQL and `hive`
    steps: the cluster's own, or the DataCatalog named in spec.catalog) and Trino (a coordinator on the
    master, a worker in every core and task pod, `trino` steps; needs Hive). Immutable."""
    images: ApplicationImages | None = None
    """Per-application image overrides."""
    master: MasterSpec = Field(default_factory=MasterSpec)
    """The master node."""
    core_groups: list[CoreGroup] = Field(
        default_factory=list, max_length=MAX_CORE_GROUPS, json_schema_extra=list_map("name")
    )
    """Core node groups (Spark worker + HDFS DataNode, on on-demand capacity). At least one with HDFS."""
    task_groups: list[TaskGroup] = Field(
        default_factory=list, max_length=MAX_TASK_GROUPS, json_schema_extra=list_map("name")
    )
    """Task node groups (Spark worker only, spot by default)."""
    managed_scaling: ManagedScaling = Field(default_factory=ManagedScaling)
    """Automatic resizing of task groups."""
    auto_termination: AutoTermination = Field(default_factory=AutoTermination)
    """When the cluster terminates by itself."""
    termination_protected: bool = False
    """Refuse to delete or terminate the cluster until this is set back to false."""
    terminate: bool = Field(
        default=False,
        json_schema_extra=validations(
            cel(
                "self || !oldSelf",
                "spec.terminate cannot be set back to false: a terminated cluster stays terminated;"
                " create a new cluster",
                reason="FieldValueForbidden",
            )
        ),
    )
    """Set to true to terminate the cluster (EMR's TerminateJobFlows): its pods and volumes are removed, the
    EMRCluster stays with its final status. Cannot be set back to false."""
    step_concurrency: int = Field(default=1, ge=1, le=256)
    """How many steps run at once, 1 .. 256. Above 1, every step's actionOnFailure must be CONTINUE."""
    configurations: Configurations = Field(default_factory=list)
    """Configuration of the applications (EMR classifications), cluster-wide; core and task groups can
    override. Changes roll the pods."""
    bootstrap_actions: list[BootstrapAction] = Field(
        default_factory=list, max_length=16, json_schema_extra=list_map("name")
    )
    """Scripts run on every node before the daemons start, in order."""
    catalog: CatalogRef | None = Field(
        default=None,
        json_schema_extra=validations(
            cel(
                "self == oldSelf",
                "spec.catalog is immutable: the cluster's tables live in it; create a new cluster",
                reason="FieldValueForbidden",
            )
        ),
    )
    """The DataCatalog (same namespace) whose Hive metastore the cluster's Spark uses, so its tables outlive
    the cluster (EMR's external metastore, the Glue Data Catalog's role). Needs Hive in spec.applications.
    Unset with Hive: the cluster runs its own metastore on the master, which ends with the cluster (EMR's
    default). Immutable."""
    s3: S3Spec | None = None
    """S3 access for steps, bootstrap actions and logs."""
    log_uri: str | None = Field(default=None, max_length=MAX_URI_LENGTH, pattern=S3_URI_PATTERN)
    """s3:// or s3a:// prefix where driver logs and Spark event logs are written."""
    network_policy: NetworkPolicySpec = Field(default_factory=NetworkPolicySpec)
    """Network isolation of the cluster."""
    pod_overrides: PodOverrides = None
    """Merged into every generated pod template (master, core, task, drivers): a partial Pod, e.g.
    {metadata: {labels: ...}, spec: {nodeSelector: ..., tolerations: [...]}}. Fields the operator owns are
    rejected."""
    steps: list[InlineStep] = Field(
        default_factory=list, max_length=MAX_INLINE_STEPS, json_schema_extra=list_map("name")
    )
    """Steps to run (as RunJobFlow's Steps): each becomes an EMRStep owned by the cluster, so one manifest
    describes a transient cluster and its jobs. Steps can be added later, not changed."""


class ClusterState(StrEnum):
    """Lifecycle of a cluster, as in EMR."""

    STARTING = "STARTING"
    BOOTSTRAPPING = "BOOTSTRAPPING"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    TERMINATED_WITH_ERRORS = "TERMINATED_WITH_ERRORS"


CLUSTER_FINAL_STATES = frozenset({ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS})


class ClusterStateChangeReasonCode(StrEnum):
    """EMR's cluster state change reason codes, plus MAX_LIFETIME."""

    INTERNAL_ERROR = "INTERNAL_ERROR"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INSTANCE_FAILURE = "INSTANCE_FAILURE"
    INSTANCE_FLEET_TIMEOUT = "INSTANCE_FLEET_TIMEOUT"
    BOOTSTRAP_FAILURE = "BOOTSTRAP_FAILURE"
    USER_REQUEST = "USER_REQUEST"
    STEP_FAILURE = "STEP_FAILURE"
    ALL_STEPS_COMPLETED = "ALL_STEPS_COMPLETED"
    IDLE_TIMEOUT = "IDLE_TIMEOUT"
    MAX_LIFETIME = "MAX_LIFETIME"


class ClusterStateChangeReason(KemrModel):
    """Why the cluster is in its state."""

    code: ClusterStateChangeReasonCode | None = None
    """EMR's reason code."""
    message: str | None = None
    """Human-readable details."""


class Endpoints(KemrModel):
    """Addresses of the cluster's services, from inside the Kubernetes cluster."""

    master: str | None = None
    """Spark master URL, spark://<host>:7077."""
    web_ui: str | None = Field(default=None, alias="webUI")
    """Spark master web UI URL."""
    hdfs: str | None = None
    """HDFS URL, hdfs://<host>:8020."""
    metastore: str | None = None
    """The Hive metastore's thrift URI (hive.metastore.uris): the cluster's own, thrift://<host>:9083, or its
    DataCatalog's."""
    trino: str | None = None
    """The Trino coordinator's HTTP URL (JDBC `jdbc:trino://<host>:8889`, the CLI's --server, the web UI at
    /ui/), http://<host>:8889 as on EMR."""


class GroupRole(StrEnum):
    """Role of a node group."""

    MASTER = "master"
    CORE = "core"
    TASK = "task"


class GroupStatus(KemrModel):
    """Desired and ready pods of one node group."""

    name: str
    """Group name ("master" for the master)."""
    role: GroupRole
    """master, core or task."""
    capacity_type: CapacityType | None = None
    """Capacity the group runs on now (a spot group that fell back runs on on-demand)."""
    desired: int = 0
    """Pods wanted."""
    ready: int = 0
    """Pods ready."""
    reason: str | None = None
    """Why `desired` is what it is: managed scaling's last decision (ScaleUp, ScaleDown, Cooldown,
    Stabilizing, Steady, Bounds), or a core group's scale-in (Decommissioning, DecommissionWaiting)."""
    message: str | None = None
    """Details of `reason`: the demand, the capacity, what is waited for."""
    last_scale_time: datetime | None = None
    """When managed scaling last changed `desired`."""
    scale_down_since: datetime | None = None
    """Since when demand has been below `desired` (the group shrinks after scaleDownStabilizationSeconds)."""
    on_demand_fallback: int | None = None
    """Pods of a spot group running on on-demand capacity, standing in for spot pods that stayed
    unschedulable for spotFallback.afterSeconds. Back to 0 when spot capacity returns."""
    decommissioning: list[str] | None = None
    """Core pods whose DataNodes are being decommissioned before the group shrinks."""


class StepCounts(KemrModel):
    """How many of the cluster's steps are in each state."""

    pending: int = 0
    """Steps waiting to run."""
    running: int = 0
    """Steps running (RUNNING or CANCEL_PENDING)."""
    completed: int = 0
    """Steps that completed."""
    failed: int = 0
    """Steps that failed."""
    cancelled: int = 0
    """Steps that were cancelled."""


class ClusterTimeline(KemrModel):
    """When the cluster was created, became ready and ended."""

    created: datetime | None = None
    """When the operator first saw the cluster."""
    ready: datetime | None = None
    """When the cluster first became ready (WAITING)."""
    terminating: datetime | None = None
    """When the cluster began terminating (TERMINATING, or straight to an end state)."""
    ended: datetime | None = None
    """When the cluster reached TERMINATED or TERMINATED_WITH_ERRORS."""


class EMRClusterStatus(KemrModel):
    """Observed state of an EMRCluster, written by the operator."""

    state: ClusterState | None = None
    """STARTING, BOOTSTRAPPING, RUNNING, WAITING, TERMINATING, TERMINATED or TERMINATED_WITH_ERRORS."""
    state_change_reason: ClusterStateChangeReason | None = None
    """Why the cluster is in its state."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation the status was computed from."""
    conditions: Conditions = Field(default_factory=list)
    """Ready, Progressing, Degraded, Stalled, with the generation they were computed from."""
    endpoints: Endpoints | None = None
    """Addresses of the cluster's services."""
    groups: list[GroupStatus] = Field(default_factory=list, json_schema_extra=list_map("name"))
    """Desired and ready pods per node group, master included."""
    ready_groups: str | None = None
    """Groups with all their pods ready, over all groups ("2/3")."""
    steps: StepCounts | None = None
    """How many of the cluster's steps are in each state."""
    timeline: ClusterTimeline | None = None
    """When the cluster was created, became ready and ended."""
    last_step_end_time: datetime | None = None
    """When the last step ended."""
    idle_since: datetime | None = None
    """Since when no step has been running or pending (the idle timeout counts from here)."""
