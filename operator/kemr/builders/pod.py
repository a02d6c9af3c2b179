"""The pod templates of the master, core and task groups, and the pieces a driver pod shares with them.

Every pod: runs as uid 185 with a read-only root filesystem, passes the Pod Security Standard "restricted";
mounts its group's configuration (SPARK_CONF_DIR, HADOOP_CONF_DIR), the cluster's scripts, an emptyDir for
what bootstrap actions install (/opt/kemr/local) and one for /tmp; runs the bootstrap actions as init
containers; carries the hash of the configuration it mounts, so a configuration change rolls it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from kemr.api.quantity import format_cpu, format_memory
from kemr.applications import APPLICATIONS, CONFIG_FILES
from kemr.applications.base import ConfigFile
from kemr.builders.overrides import apply_pod_overrides
from kemr.resolve import ContainerSize, ResolvedCluster, ResolvedGroup, layout
from kemr.resolve.model import Placement, ResolvedDaemon
from kemr.resolve.names import CONFIG_HASH_ANNOTATION

BOOTSTRAP_PREFIX: Final = "bootstrap-"

# Volume names.
CONFIG_VOLUME: Final = "config"
SCRIPTS_VOLUME: Final = "scripts"
DATA_VOLUME: Final = "data"
LOCAL_VOLUME: Final = "local"
TMP_VOLUME: Final = "tmp"
OPERATOR_VOLUME_NAMES: Final = (
    CONFIG_VOLUME,
    SCRIPTS_VOLUME,
    DATA_VOLUME,
    LOCAL_VOLUME,
    TMP_VOLUME,
    *dict.fromkeys(v.name for m in APPLICATIONS.values() for vs in m.volumes.values() for v in vs),
)

SCRIPTS_MODE: Final = 0o555
HASH_LENGTH: Final = 16


# --- shared pieces (also for the drivers' pods) ----------------------------------------------------------


def literal(value: str) -> str:
    """`value` as it must appear in a container's command or args to reach the program exactly: the kubelet
    expands `$(VAR)` there and turns `$$` into `$`, so every `$` of a user's string is doubled (Kubernetes'
    "Define a command and arguments": `$$(VAR)` passes the literal text `$(VAR)`)."""
    return value.replace("$", "$$")


def config_hash(*config_map_data: Mapping[str, str]) -> str:
    """Hash of the ConfigMap contents a pod mounts: its template's annotation, so a change rolls the pods."""
    text = json.dumps([dict(d) for d in config_map_data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": layout.UID,
        "runAsGroup": layout.GID,
        "fsGroup": layout.GID,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }


def container_resources(size: ContainerSize) -> dict[str, Any]:
    """Memory request = limit; CPU a request only (a CPU limit would throttle executors for nothing)."""
    memory = format_memory(size.memory_mib)
    return {"requests": {"cpu": format_cpu(size.cpu_millis), "memory": memory}, "limits": {"memory": memory}}


def common_env(resolved: ResolvedCluster, role: str, group: str) -> list[dict[str, Any]]:
    """Environment of every container of the cluster's pods (init containers and drivers included)."""
    env: list[dict[str, Any]] = [
        {"name": "KEMR_CLUSTER", "value": resolved.name},
        {"name": "KEMR_ROLE", "value": role},
        {"name": "KEMR_GROUP", "value": group},
        {"name": "KEMR_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "KEMR_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "KEMR_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    env += [copy.deepcopy(dict(var)) for var in resolved.application_env]
    env += [
        {"name": "KEMR_LOCAL", "value": layout.LOCAL_DIR},
        {"name": "HOME", "value": layout.LOCAL_HOME},
        {"name": "SPARK_CONF_DIR", "value": layout.SPARK_CONF_DIR},
        {"name": "HADOOP_CONF_DIR", "value": layout.HADOOP_CONF_DIR},
        {"name": "HADOOP_LOG_DIR", "value": layout.HADOOP_LOG_DIR},
        {"name": "SPARK_LOG_DIR", "value": layout.SPARK_LOG_DIR},
    ]
    env += [copy.deepcopy(dict(var)) for var in resolved.s3.env]
    return env


def client_env(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    """Extra environment of a driver container (after `common_env`): where submit.sh creates the event log
    directory before spark-submit (Spark refuses a missing one)."""
    if not resolved.event_log_dir:
        return []
    return [{"name": "KEMR_EVENT_LOG_DIR", "value": resolved.event_log_dir}]


def config_volume(config_map_name: str, files: Sequence[ConfigFile] = CONFIG_FILES) -> dict[str, Any]:
    """A group's (or the drivers') ConfigMap, each file where Spark and Hadoop look for it."""
    items = [{"key": f.key, "path": f.path} for f in files]
    return {"name": CONFIG_VOLUME, "configMap": {"name": config_map_name, "items": items}}


def shared_volumes(resolved: ResolvedCluster, config_map_name: str) -> list[dict[str, Any]]:
    """config, scripts, local and tmp: what every pod of the cluster mounts (the data volume aside)."""
    return [
        config_volume(config_map_name, resolved.config_files),
        {
            "name": SCRIPTS_VOLUME,
            "configMap": {"name": resolved.scripts_config_map_name, "defaultMode": SCRIPTS_MODE},
        },
        {"name": LOCAL_VOLUME, "emptyDir": {}},
        {"name": TMP_VOLUME, "emptyDir": {}},
    ]


def shared_mounts() -> list[dict[str, Any]]:
    return [
        {"name": CONFIG_VOLUME, "mountPath": layout.CONF_DIR, "readOnly": True},
        {"name": SCRIPTS_VOLUME, "mountPath": layout.SCRIPTS_DIR, "readOnly": True},
        {"name": LOCAL_VOLUME, "mountPath": layout.LOCAL_DIR},
        {"name": TMP_VOLUME, "mountPath": layout.TMP_DIR},
    ]


def script(name: str) -> list[str]:
    return ["bash", f"{layout.SCRIPTS_DIR}/{name}"]


def bootstrap_init_containers(
    resolved: ResolvedCluster, role: str, group: str, size: ContainerSize
) -> list[dict[str, Any]]:
    """One init container per bootstrap action, in order, before the daemons (or the driver) start.

    They get the whole pod's resources (init containers run alone, so this costs the pod nothing)."""
    return [
        {
            "name": f"{BOOTSTRAP_PREFIX}{action.name}",
            "image": resolved.spark_image,
            "imagePullPolicy": resolved.image_pull_policy,
            "command": script("bootstrap.sh"),
            "args": [literal(a) for a in (action.name, action.script, *action.args)],
            "env": [
                *common_env(resolved, role, group),
                {"name": "KEMR_BOOTSTRAP_ACTION", "value": action.name},
            ],
            "resources": container_resources(size),
            "securityContext": container_security_context(),
            # A failing action's last output lines become its termination message: the cluster's or the
            # step's BOOTSTRAP_FAILURE message quotes them.
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "volumeMounts": shared_mounts(),
        }
        for action in resolved.bootstrap_actions
    ]


# --- daemon containers -----------------------------------------------------------------------------------


def _probe_exec(check: str) -> dict[str, Any]:
    return {
        "exec": {"command": ["python3", f"{layout.SCRIPTS_DIR}/probe.py", check]},
        "periodSeconds": 5,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def _tcp(port: int, period: int, failures: int) -> dict[str, Any]:
    return {
        "tcpSocket": {"port": port},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def daemon_container(
    resolved: ResolvedCluster, group: ResolvedGroup, daemon: ResolvedDaemon
) -> dict[str, Any]:
    """A daemon an application declared (kemr.applications), as its container."""
    container = {
        "name": daemon.name,
        "image": daemon.image,
        "imagePullPolicy": resolved.image_pull_policy,
        "command": script(daemon.entrypoint),
        "ports": [{"name": port.name, "containerPort": port.port} for port in daemon.ports],
        "env": [*common_env(resolved, group.role, group.name), *(copy.deepcopy(dict(e)) for e in daemon.env)],
        "resources": container_resources(daemon.size),
        # Startup: up to 10 minutes (a NameNode replaying a long edit log); then liveness is a plain TCP
        # check, readiness the daemon's own word that it is ready.
        "startupProbe": _tcp(daemon.liveness_port, 5, 120),
        "livenessProbe": _tcp(daemon.liveness_port, 20, 3),
        "readinessProbe": _probe_exec(daemon.name),
        "securityContext": container_security_context(),
        "volumeMounts": [
            *shared_mounts(),
            {"name": DATA_VOLUME, "mountPath": layout.DATA_DIR},
            *(
                {"name": volume, "mountPath": path, "readOnly": True}
                if read_only
                else {"name": volume, "mountPath": path}
                for volume, path, read_only in daemon.mounts
            ),
        ],
    }
    if daemon.pre_stop:
        container["lifecycle"] = {"preStop": {"exec": {"command": script(daemon.pre_stop)}}}
    return container


def daemon_init_containers(resolved: ResolvedCluster, group: ResolvedGroup) -> list[dict[str, Any]]:
    """`<daemon>-init` for each daemon declaring an init script: after the bootstrap actions (what they
    install is there), with the daemon's image, environment and mounts and the whole pod's resources."""
    containers = []
    for daemon in group.daemons:
        if daemon.init is None:
            continue
        container = daemon_container(resolved, group, daemon)
        containers.append(
            {
                "name": f"{daemon.name}-init",
                "image": container["image"],
                "imagePullPolicy": container["imagePullPolicy"],
                "command": script(daemon.init),
                "env": container["env"],
                "resources": container_resources(group.pod),
                "securityContext": container_security_context(),
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "volumeMounts": container["volumeMounts"],
            }
        )
    return containers


def daemon_containers(resolved: ResolvedCluster, group: ResolvedGroup) -> list[dict[str, Any]]:
    """The enabled applications' daemons, in registry order: master: spark-master (+ namenode); core:
    spark-worker (+ datanode); task: spark-worker."""
    return [daemon_container(resolved, group, daemon) for daemon in group.daemons]


# --- the pod template ------------------------------------------------------------------------------------


def _spread(group: ResolvedGroup) -> list[dict[str, Any]]:
    """Spread a group's pods over nodes (HDFS replicas on one node protect nothing); best effort."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(group.selector_labels)},
        }
    ]


def placement_spec(placement: Placement) -> dict[str, Any]:
    """The pod spec fields that put a pod on its capacity type (node selector, tolerations, node affinity)."""
    spec: dict[str, Any] = {}
    if placement.node_selector:
        spec["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        spec["tolerations"] = [dict(t) for t in placement.tolerations]
    if placement.node_affinity:
        spec["affinity"] = {"nodeAffinity": copy.deepcopy(dict(placement.node_affinity))}
    return spec


def generated_pod_template(resolved: ResolvedCluster, group: ResolvedGroup, hash_: str) -> dict[str, Any]:
    """The pod template before podOverrides."""
    spec: dict[str, Any] = {
        "serviceAccountName": resolved.service_account_name,
        "automountServiceAccountToken": False,
        # Service links would put e.g. SPARK_MASTER_PORT=tcp://... in the environment of a cluster named
        # "spark", which Spark's scripts read as the port.
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        **placement_spec(group.placement),
    }
    if not group.is_master:
        spec["topologySpreadConstraints"] = _spread(group)
        spec["terminationGracePeriodSeconds"] = layout.WORKER_GRACE_SECONDS
    if resolved.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": secret} for secret in resolved.image_pull_secrets]
    init = bootstrap_init_containers(resolved, group.role, group.name, group.pod)
    init += daemon_init_containers(resolved, group)
    if init:
        spec["initContainers"] = init
    spec["containers"] = daemon_containers(resolved, group)
    volumes = shared_volumes(resolved, group.config_map_name)
    if group.storage is None:  # task pods: scratch space for shuffle and the worker's directory
        volumes.append({"name": DATA_VOLUME, "emptyDir": {}})
    volumes += [{"name": volume, "configMap": {"name": config_map}} for volume, config_map in group.volumes]
    spec["volumes"] = volumes
    return {
        "metadata": {"labels": dict(group.labels), "annotations": {CONFIG_HASH_ANNOTATION: hash_}},
        "spec": spec,
    }


def build_pod_template(resolved: ResolvedCluster, group: ResolvedGroup, hash_: str) -> dict[str, Any]:
    """The group's pod template: generated, then the cluster's and the group's podOverrides, owned fields
    forced back."""
    return apply_pod_overrides(generated_pod_template(resolved, group, hash_), group.pod_overrides)


OPERATOR_CONTAINER_NAMES: Final = tuple(
    dict.fromkeys(d.name for m in APPLICATIONS.values() for ds in m.daemons.values() for d in ds)
)
