"""An EMRNotebook's Deployment: one JupyterLab pod whose kernels are Spark drivers in client mode against its
cluster's master. Pure: the resolved cluster and the notebook's spec in, the manifest out.

The pod is a driver as far as the cluster can tell: the drivers' environment (common_env, client_env: the
master's URL, S3, event logs), their client ConfigMap (SPARK_CONF_DIR, HADOOP_CONF_DIR), their on-demand
placement and restricted security, and the cluster's labels — so the cluster's NetworkPolicy admits the pod
and its executors can connect back to the kernel. It is owned by the EMRNotebook, not by the cluster (the
apply layer sets the owner reference), so the cluster neither prunes nor counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kemr.api import constants as c
from kemr.api.notebook import JUPYTER_PORT, EMRNotebookSpec
from kemr.builders.overrides import apply_pod_overrides
from kemr.builders.pod import (
    client_env,
    common_env,
    container_security_context,
    placement_spec,
    pod_security_context,
    shared_mounts,
    shared_volumes,
)
from kemr.resolve import ResolvedCluster

NOTEBOOK_CONTAINER: Final = "notebook"
NOTEBOOK_COMMAND: Final = ("kemr-notebook",)  # the image's entrypoint (docs/notebooks.md, "The image")
JUPYTER_PORT_NAME: Final = "jupyter"
# Jupyter Server's version endpoint: answers without authentication once the server is up.
READINESS_PATH: Final = "/api"
TOKEN_ENV: Final = "KEMR_NOTEBOOK_TOKEN"
PASSWORD_ENV: Final = "KEMR_NOTEBOOK_PASSWORD"


def notebook_deployment_name(notebook: str) -> str:
    """`<notebook>-notebook`: the Deployment's name (its pods are `<notebook>-notebook-<hash>-<id>`)."""
    return f"{notebook}-notebook"


def notebook_selector_labels(notebook: str) -> dict[str, str]:
    """What the Deployment's selector matches: immutable, so neither the cluster's name (the notebook can be
    re-attached) nor anything else that may change."""
    return {c.LABEL_ROLE: c.ROLE_NOTEBOOK, c.LABEL_NOTEBOOK: notebook}


def notebook_labels(resolved: ResolvedCluster, notebook: str) -> dict[str, str]:
    """The cluster's labels (kemr.io/cluster: its NetworkPolicy admits the pod, the informers see it) and the
    notebook's own."""
    return {**resolved.labels, **notebook_selector_labels(notebook)}


def _secret_env(spec: EMRNotebookSpec) -> dict[str, Any]:
    """The token or password, from the Secret the spec names: never in the manifest itself."""
    auth = spec.auth
    if auth.token_secret_ref is not None:
        name, secret, key = TOKEN_ENV, auth.token_secret_ref.name, auth.token_secret_ref.key
    elif auth.password_secret_ref is not None:
        name, secret, key = PASSWORD_ENV, auth.password_secret_ref.name, auth.password_secret_ref.key
    else:  # the model refuses it; a typed guard for the builder's callers
        raise ValueError("spec.auth sets neither tokenSecretRef nor passwordSecretRef")
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def notebook_env(resolved: ResolvedCluster, notebook: str, spec: EMRNotebookSpec) -> list[dict[str, Any]]:
    """A driver's environment (role `notebook`, group the notebook's name), then the notebook's own:
    KEMR_NOTEBOOK (its name), KEMR_NOTEBOOK_S3_URI (spec.s3Location), the token or password."""
    return [
        *common_env(resolved, c.ROLE_NOTEBOOK, notebook),
        *client_env(resolved),
        {"name": "KEMR_NOTEBOOK", "value": notebook},
        {"name": "KEMR_NOTEBOOK_S3_URI", "value": spec.s3_location},
        _secret_env(spec),
    ]


def _container(resolved: ResolvedCluster, notebook: str, spec: EMRNotebookSpec) -> dict[str, Any]:
    cpu, memory = spec.resources.cpu, spec.resources.memory
    return {
        "name": NOTEBOOK_CONTAINER,
        "image": resolved.notebook_image,
        "imagePullPolicy": resolved.image_pull_policy,
        "command": list(NOTEBOOK_COMMAND),
        "env": notebook_env(resolved, notebook, spec),
        "ports": [{"name": JUPYTER_PORT_NAME, "containerPort": JUPYTER_PORT}],
        # Memory request = limit, CPU a request only: as the drivers (a CPU limit only throttles).
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
        "readinessProbe": {
            "httpGet": {"path": READINESS_PATH, "port": JUPYTER_PORT},
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        # config (the drivers' client ConfigMap), scripts, local (HOME, pip installs) and /tmp: emptyDirs
        # and read-only mounts only, the root filesystem stays read-only.
        "volumeMounts": shared_mounts(),
    }


def notebook_pod_template(
    resolved: ResolvedCluster,
    notebook: str,
    spec: EMRNotebookSpec,
    cluster_pod_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The pod template: generated, then the cluster's spec.podOverrides and the notebook's, owned fields
    forced back (kemr.builders.overrides)."""
    pod_spec: dict[str, Any] = {
        "serviceAccountName": resolved.service_account_name,  # workload identity for S3, as the drivers
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "containers": [_container(resolved, notebook, spec)],
        "volumes": shared_volumes(resolved, resolved.client_config_map_name),
        # On-demand capacity, as the master and the drivers: a spot reclaim would lose the kernels' state.
        **placement_spec(resolved.master.placement),
    }
    if resolved.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": s} for s in resolved.image_pull_secrets]
    generated = {"metadata": {"labels": notebook_labels(resolved, notebook)}, "spec": pod_spec}
    overrides = [o for o in (cluster_pod_overrides, spec.pod_overrides) if o]
    return apply_pod_overrides(generated, overrides)


def build_notebook_deployment(
    resolved: ResolvedCluster,
    notebook: str,
    spec: EMRNotebookSpec,
    cluster_pod_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The notebook's Deployment `<notebook>-notebook` in the cluster's namespace: 1 replica, strategy
    Recreate (two JupyterLabs saving the same S3 files would overwrite each other's work), no owner
    reference (the apply layer makes the EMRNotebook its owner)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": notebook_deployment_name(notebook),
            "namespace": resolved.namespace,
            "labels": notebook_labels(resolved, notebook),
        },
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": notebook_selector_labels(notebook)},
            "template": notebook_pod_template(resolved, notebook, spec, cluster_pod_overrides),
        },
    }
