"""The Spark driver pod of one step attempt: client mode against the cluster's master, on on-demand capacity,
with the cluster's client configuration, S3 settings and bootstrap actions. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kemr.api import Application, EMRStepSpec, Resources
from kemr.api import constants as c
from kemr.builders.overrides import apply_pod_overrides
from kemr.builders.pod import (
    bootstrap_init_containers,
    client_env,
    common_env,
    container_security_context,
    literal,
    placement_spec,
    pod_security_context,
    script,
    shared_mounts,
    shared_volumes,
)
from kemr.resolve import ResolvedCluster
from kemr.steptypes import step_body

DRIVER_CONTAINER = "driver"
LABEL_ATTEMPT = "kemr.io/attempt"
DRIVER_UI_PORT = 4040


def spark_submit_args(resolved: ResolvedCluster, step: str, spec: EMRStepSpec) -> list[str]:
    """Arguments of the step type's Spark program (spark-submit, spark-sql; client mode: the driver is this
    pod), as the container's command holds them: kemr's client-mode options, then the step type's arguments
    with the user's strings escaped for the kubelet (`literal`); kemr's own `$(KEMR_POD_IP)` is not. Raises
    ValueError for a step whose type runs no Spark program (a command)."""
    found = step_body(spec)
    if found is None or found[0].spark_program is None:
        raise ValueError("not a Spark step")
    step_type, body = found
    client_mode = [
        "--master",
        resolved.endpoints.master,
        "--deploy-mode",
        "client",
        "--name",
        step,
        "--conf",
        "spark.driver.host=$(KEMR_POD_IP)",
        "--conf",
        "spark.driver.bindAddress=0.0.0.0",
    ]
    return [*client_mode, *map(literal, step_type.driver_args(body))]


def driver_command(resolved: ResolvedCluster, step: str, spec: EMRStepSpec) -> list[str]:
    """The driver container's command: a command step's runs as given; a Spark step's program runs through
    submit.sh, which uploads the driver's log and writes the failure message (see templates/submit.sh.j2).
    Raises ValueError for a spec that sets no step type."""
    found = step_body(spec)
    if found is None:
        raise ValueError("not a step: it sets no step type")
    step_type, body = found
    if step_type.spark_program is None:
        return [literal(a) for a in step_type.driver_args(body)]
    return [*script("submit.sh"), step_type.spark_program, *spark_submit_args(resolved, step, spec)]


def driver_log_uri(log_uri: str | None, step: str, attempt: int) -> str | None:
    """Where submit.sh uploads an attempt's driver log: the step status's failureDetails.logFile."""
    return f"{log_uri}steps/{step}/attempt-{attempt}/driver.log" if log_uri else None


def _driver_env(resolved: ResolvedCluster, step: str, attempt: int) -> list[dict[str, Any]]:
    env = [{"name": "KEMR_STEP", "value": step}, {"name": "KEMR_ATTEMPT", "value": str(attempt)}]
    log_uri = driver_log_uri(resolved.log_uri, step, attempt)
    if log_uri:
        env.append({"name": "KEMR_DRIVER_LOG_URI", "value": log_uri})
    return env


def _driver_image(resolved: ResolvedCluster, spec: EMRStepSpec) -> str:
    """The image of the step type's driver: its application's (`StepType.driver_application`), else
    Spark's."""
    found = step_body(spec)
    if found is None or found[0].driver_application is None:
        return resolved.spark_image
    return resolved.images[Application(found[0].driver_application)]


def _resources(spec: EMRStepSpec) -> Resources:
    found = step_body(spec)
    return found[0].driver_resources(found[1]) if found else Resources()


def build_driver_pod(
    resolved: ResolvedCluster,
    step: Mapping[str, Any],
    spec: EMRStepSpec,
    attempt: int,
    pod_name: str,
    cluster_pod_overrides: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The driver pod of attempt `attempt` of `step` (the EMRStep object, its owner)."""
    name = step["metadata"]["name"]
    resources = _resources(spec)
    labels = {**resolved.labels, c.LABEL_ROLE: c.ROLE_DRIVER, c.LABEL_STEP: name, LABEL_ATTEMPT: str(attempt)}
    size = resolved.master.pod  # bootstrap actions run with the driver's own resources below
    init = bootstrap_init_containers(resolved, c.ROLE_DRIVER, name, size)
    for container in init:
        container["resources"] = _container_resources(resources)
    generated: dict[str, Any] = {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "serviceAccountName": resolved.service_account_name,
            "enableServiceLinks": False,
            "securityContext": pod_security_context(),
            "initContainers": init,
            "containers": [
                {
                    "name": DRIVER_CONTAINER,
                    "image": _driver_image(resolved, spec),
                    "imagePullPolicy": resolved.image_pull_policy,
                    "command": driver_command(resolved, name, spec),
                    "env": [
                        *common_env(resolved, c.ROLE_DRIVER, name),
                        *client_env(resolved),
                        *_driver_env(resolved, name, attempt),
                    ],
                    "ports": [{"name": "spark-ui", "containerPort": DRIVER_UI_PORT}],
                    "resources": _container_resources(resources),
                    "securityContext": container_security_context(),
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "volumeMounts": shared_mounts(),
                }
            ],
            "volumes": shared_volumes(resolved, resolved.client_config_map_name),
        },
    }
    # Drivers run on on-demand capacity, as the master does.
    generated["spec"].update(placement_spec(resolved.master.placement))
    if resolved.image_pull_secrets:
        generated["spec"]["imagePullSecrets"] = [{"name": s} for s in resolved.image_pull_secrets]
    if not generated["spec"]["initContainers"]:
        del generated["spec"]["initContainers"]
    overrides: Sequence[Mapping[str, Any]] = [o for o in (cluster_pod_overrides, spec.pod_overrides) if o]
    pod = apply_pod_overrides(generated, overrides)
    owner = {
        "apiVersion": c.API_VERSION,
        "kind": c.STEP_KIND,
        "name": name,
        "uid": step["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    pod["metadata"] = {
        **pod["metadata"],
        "name": pod_name,
        "namespace": resolved.namespace,
        "ownerReferences": [owner],
        "finalizers": [c.DRIVER_FINALIZER],
    }
    return {"apiVersion": "v1", "kind": "Pod", **pod}


def _container_resources(resources: Resources) -> dict[str, Any]:
    return {
        "requests": {"cpu": resources.cpu, "memory": resources.memory},
        "limits": {"memory": resources.memory},
    }
