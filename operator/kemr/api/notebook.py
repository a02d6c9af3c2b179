"""EMRNotebook: a JupyterLab attached to a running EMRCluster, as EMR Notebooks (EMR Studio's workspaces) are.

The notebook is its own resource, not a field of the cluster: it is created and opened by people who may not
create clusters (RBAC on `emrnotebooks`), its files live in S3 (`spec.s3Location`) so it outlives the cluster
it is attached to, and it can be re-attached to another cluster by changing `spec.clusterRef.name`. Its kernel
is a Spark driver in client mode against the cluster's master (docs/notebooks.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from kemr.api.base import KemrModel, Quantity, cel, cel_rules
from kemr.api.catalog import SECRET_NAME_PATTERN
from kemr.api.cluster import S3_URI_PATTERN
from kemr.api.common import MAX_URI_LENGTH, Conditions, PodOverrides
from kemr.api.constants import DNS_1035_LABEL_PATTERN, MAX_CLUSTER_NAME_LENGTH

JUPYTER_PORT = 8888
"""Port of the notebook's JupyterLab server in its pod (Jupyter's default)."""
NOTEBOOK_URL_PATH = "/lab"
"""The page to open on the notebook's server: JupyterLab."""


class NotebookClusterRef(KemrModel):
    """The EMRCluster, in the notebook's namespace, whose Spark master the notebook's kernels use."""

    name: str = Field(max_length=MAX_CLUSTER_NAME_LENGTH, pattern=DNS_1035_LABEL_PATTERN)
    """Name of the EMRCluster. May be changed to re-attach the notebook to another cluster: its pod is
    replaced (running kernels end; the notebooks, in S3, stay)."""


class TokenSecretRef(KemrModel):
    """A key of a Secret in the notebook's namespace holding the Jupyter server's token."""

    name: str = Field(max_length=253, pattern=SECRET_NAME_PATTERN)
    """Name of the Secret."""
    key: str = Field(default="token", min_length=1, max_length=253)
    """Key of the token in the Secret."""


class PasswordSecretRef(KemrModel):
    """A key of a Secret in the notebook's namespace holding the Jupyter server's password."""

    name: str = Field(max_length=253, pattern=SECRET_NAME_PATTERN)
    """Name of the Secret."""
    key: str = Field(default="password", min_length=1, max_length=253)
    """Key of the password in the Secret."""


_ONE_AUTH = (
    "set exactly one of spec.auth.tokenSecretRef (recommended: the operator can then see the kernels'"
    " activity) or spec.auth.passwordSecretRef"
)


class NotebookAuth(KemrModel):
    """How users log in to the notebook's server: exactly one of tokenSecretRef or passwordSecretRef. The
    secret never appears in the EMRNotebook, its status or the Deployment: the pod reads it from the
    Secret."""

    model_config = cel_rules(cel("has(self.tokenSecretRef) != has(self.passwordSecretRef)", _ONE_AUTH))

    token_secret_ref: TokenSecretRef | None = None
    """A token (Jupyter's `IdentityProvider.token`): `?token=...` in the URL, or the login page. The
    operator uses it too, to read the kernels' activity from Jupyter's REST API (status.kernels)."""
    password_secret_ref: PasswordSecretRef | None = None
    """A password, as Jupyter's `PasswordIdentityProvider.hashed_password` takes it (a plain password is
    hashed at start). The operator can't read the kernels' activity then: status.kernels stays unset."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.token_secret_ref is None) == (self.password_secret_ref is None):
            raise ValueError(_ONE_AUTH)
        return self


class NotebookResources(KemrModel):
    """CPU and memory of the notebook's pod (requests; memory is also the limit). Its kernels are Spark
    drivers: size it as a step's driver, the executors run on the cluster."""

    cpu: Quantity = "1"
    """CPU, as a Kubernetes quantity: `1`, `500m`, `2`."""
    memory: Quantity = "2Gi"
    """Memory, as a Kubernetes quantity: `2Gi`, `8Gi`; shared by JupyterLab and its kernels' drivers."""


class EMRNotebookSpec(KemrModel):
    """A JupyterLab server attached to an EMRCluster (EMR Notebooks): kernels run Spark in client mode
    against the cluster's master, notebooks are saved under an S3 prefix."""

    cluster_ref: NotebookClusterRef
    """The EMRCluster (same namespace) the notebook is attached to. It must be WAITING or RUNNING for the
    notebook to start; once it terminates, the notebook stops (detached). Change it to re-attach."""
    s3_location: str = Field(max_length=MAX_URI_LENGTH, pattern=S3_URI_PATTERN)
    """s3:// or s3a:// prefix where the notebook's files are saved and read, e.g. `s3://team/notebooks/alice/`
    (EMR Notebooks' "S3 location"). Read and written with the cluster's S3 settings (spec.s3)."""
    auth: NotebookAuth
    """How users log in: a token or a password, from a Secret."""
    resources: NotebookResources = Field(default_factory=NotebookResources)
    """CPU and memory of the notebook's pod."""
    stop: bool = False
    """true stops the notebook (EMR's StopNotebookExecution): its pod is deleted, the EMRNotebook and the
    notebooks in S3 stay; false starts it again."""
    pod_overrides: PodOverrides = None
    """Merged into the notebook's pod template after the cluster's spec.podOverrides (labels,
    nodeSelector, tolerations...), as a group's podOverrides are; fields the operator owns (image, command,
    ports, resources, probes, its env and mounts, the selector's labels) are set back to its own."""


class NotebookState(StrEnum):
    """Lifecycle of a notebook, as EMR Notebooks' states."""

    PENDING = "PENDING"
    """Waiting for its cluster (not WAITING or RUNNING yet) or its Secret: see stateChangeReason."""
    STARTING = "STARTING"
    """The pod is being scheduled, pulled or started."""
    READY = "READY"
    """JupyterLab answers: open it with `kubectl emr notebook NAME`."""
    STOPPING = "STOPPING"
    """Stop requested (spec.stop) or the cluster terminated: the pod is going."""
    STOPPED = "STOPPED"
    """No pod: stopped on request, or detached from a terminated cluster."""
    FAILED = "FAILED"
    """The pod couldn't run for NOTEBOOK_FAILURE_SECONDS (an image that can't be pulled, a crash loop,
    unschedulable): see stateChangeReason. It becomes READY by itself if the pod recovers."""


class NotebookStateChangeReasonCode(StrEnum):
    """Why the notebook is in its state."""

    CLUSTER_NOT_FOUND = "CLUSTER_NOT_FOUND"
    CLUSTER_NOT_READY = "CLUSTER_NOT_READY"
    CLUSTER_TERMINATED = "CLUSTER_TERMINATED"
    SECRET_NOT_FOUND = "SECRET_NOT_FOUND"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    POD_NOT_RUNNING = "POD_NOT_RUNNING"
    POD_FAILURE = "POD_FAILURE"
    USER_REQUEST = "USER_REQUEST"


class NotebookStateChangeReason(KemrModel):
    """Why the notebook is in its state."""

    code: NotebookStateChangeReasonCode | None = None
    """A reason code."""
    message: str | None = None
    """Human-readable details: the cluster's state, the pod's problem in the kubelet's or scheduler's words,
    the missing Secret and the field naming it."""


class NotebookKernels(KemrModel):
    """The notebook's kernels, from Jupyter's REST API (GET /api/kernels)."""

    total: int = Field(default=0, ge=0)
    """Kernels running (started and not shut down), busy or idle."""
    busy: int = Field(default=0, ge=0)
    """Kernels at work now: executing a cell (execution_state "busy") or starting ("starting", "restarting":
    a kernel makes its SparkSession as it starts)."""


class EMRNotebookStatus(KemrModel):
    """Observed state of an EMRNotebook, written by the operator."""

    state: NotebookState | None = None
    """PENDING, STARTING, READY, STOPPING, STOPPED or FAILED."""
    state_change_reason: NotebookStateChangeReason | None = None
    """Why the notebook is in its state."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation the status was computed from."""
    conditions: Conditions = Field(default_factory=list)
    """Ready (JupyterLab answers; its message says when the kernels' activity could not be read), Synced
    (the Deployment was applied), with the generation they were computed from."""
    cluster: str | None = None
    """The EMRCluster the notebook's pod is attached to; unset while it has none."""
    url: str | None = None
    """Path to open on the notebook's server once READY: `/lab` (`kubectl emr notebook NAME` forwards a
    local port to it)."""
    kernels: NotebookKernels | None = None
    """Kernels running and busy, polled every 30 s while READY with token auth; unset with password auth
    (unknown). After a failed poll, the last values stay (the Ready condition says the poll failed)."""
    last_activity: datetime | None = None
    """The latest of the kernels' last_activity (Jupyter's: the last message to or from a kernel), RFC 3339.
    The cluster's idle rule reads it (kemr.status.notebook.notebook_activity)."""
