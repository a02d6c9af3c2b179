"""The Spark driver pod of one step attempt: client mode against the cluster's master, on on-demand capacity,
with the cluster's client configuration, S3 settings and bootstrap actions. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kemr.api import EMRStepSpec, Resources
from kemr.api import constants as c
from kemr.api.quantity import cpu_millis, driver_heap_mib, memory_mib
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

DRIVER_CONTAINER = "driver"
LABEL_ATTEMPT = "kemr.io/attempt"
DRIVER_UI_PORT = 4040


def spark_submit_args(resolved: ResolvedCluster, step: str, spec: EMRStepSpec) -> list[str]:
    """Arguments of spark-submit / spark-sql (client mode; the driver is this pod), as the container's command
    holds them: the user's strings escaped for the kubelet (`literal`), kemr's own `$(KEMR_POD_IP)` not."""
    common = [
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
    if spec.spark:
        s = spec.spark
        args = list(common)
        args += ["--class", literal(s.main_class)] if s.main_class else []
        args += ["--py-files", literal(",".join(s.py_files))] if s.py_files else []
        args += ["--jars", literal(",".join(s.jars))] if s.jars else []
        args += _driver_conf(s.driver.resources)
        for key, value in sorted(s.conf.items()):
            args += ["--conf", literal(f"{key}={value}")]
        return [*args, literal(s.main_application_file), *map(literal, s.args)]
    if spec.spark_sql:
        q = spec.spark_sql
        source = ["-e", literal(q.query)] if q.query else ["-f", literal(str(q.file))]
        return [*common, *_driver_conf(q.driver.resources), *source]
    raise ValueError("not a Spark step")


def _driver_conf(resources: Resources) -> list[str]:
    # What the JVM needs beside its heap is left free (driver_heap_mib): a 1Gi driver gets 640m and is not
    # OOM-killed.
    # validate_step refuses a driver too small for Spark's minimum heap.
    heap_mib = max(256, driver_heap_mib(memory_mib(resources.memory)))
    cores = max(1, cpu_millis(resources.cpu) // 1000)
    return [
        "--conf",
        f"spark.driver.memory={heap_mib}m",
        "--conf",
        f"spark.driver.cores={cores}",
        # A driver out of heap exits (and the step fails with the JVM's words) instead of hanging with a dead
        # thread; the default options Spark prepends to the user's spark.driver.extraJavaOptions.
        "--conf",
        "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError",
    ]


def driver_command(resolved: ResolvedCluster, step: str, spec: EMRStepSpec) -> list[str]:
    """A command step runs as given; Spark steps run through submit.sh, which uploads the driver's log and
    writes the failure message (see templates/submit.sh.j2)."""
    if spec.command:
        return [literal(a) for a in spec.command.args]
    program = "spark-sql" if spec.spark_sql else "spark-submit"
    return [*script("submit.sh"), program, *spark_submit_args(resolved, step, spec)]


def driver_log_uri(log_uri: str | None, step: str, attempt: int) -> str | None:
    """Where submit.sh uploads an attempt's driver log: the step status's failureDetails.logFile."""
    return f"{log_uri}steps/{step}/attempt-{attempt}/driver.log" if log_uri else None


def _driver_env(resolved: ResolvedCluster, step: str, attempt: int) -> list[dict[str, Any]]:
    env = [{"name": "KEMR_STEP", "value": step}, {"name": "KEMR_ATTEMPT", "value": str(attempt)}]
    log_uri = driver_log_uri(resolved.log_uri, step, attempt)
    if log_uri:
        env.append({"name": "KEMR_DRIVER_LOG_URI", "value": log_uri})
    return env


def _resources(spec: EMRStepSpec) -> Resources:
    body = spec.spark or spec.spark_sql or spec.command
    return body.driver.resources if body else Resources()


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
                    "image": resolved.spark_image,
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
