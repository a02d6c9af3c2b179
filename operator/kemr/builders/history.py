"""The cluster's Spark History Server: a pod reading the cluster's event logs (`spark.eventLog.dir`, under
spec.logUri) from S3, and a NetworkPolicy of its own that admits no connection (while the cluster runs, the
cluster's NetworkPolicy covers the pod as well; `kubectl port-forward` is never subject to either).

Started on request (`kubectl emr ui STEP`, which sets the cluster's HISTORY_REQUESTED_ANNOTATION) for
HISTORY_TTL_SECONDS, during the cluster's life or after it terminated: EMR's persistent application UI, which
is per cluster and started on demand too. Why one per cluster rather than one per installation:
docs/spark-ui.md ("Design"). Pure: a resolved cluster in, manifests out.
"""

from __future__ import annotations

import re
from typing import Any, Final

from kemr.api import Classification
from kemr.api import constants as c
from kemr.builders.pod import container_security_context, placement_spec, pod_security_context
from kemr.builders.render import shell_quote
from kemr.resolve import ResolvedCluster

S3_IMPL: Final = re.compile(r"fs\.s3[an]?\.impl")
ROLE_HISTORY: Final = "history"  # kemr.io/role of the history server's pod and NetworkPolicy
HISTORY_REQUESTED_ANNOTATION: Final = "kemr.io/spark-history-requested"  # on the EMRCluster, RFC 3339 time
HISTORY_TTL_SECONDS: Final = 3600  # after the last request, then the operator deletes it
# The pod's activeDeadlineSeconds: a backstop for an operator that is down (Kubernetes can only lower it, so
# it can't follow renewed requests: the operator's TTL is what normally ends the pod).
HISTORY_DEADLINE_SECONDS: Final = 8 * 3600
HISTORY_UI_PORT: Final = 18080  # Spark's spark.history.ui.port default
HISTORY_CONTAINER: Final = "history-server"
HISTORY_HEAP: Final = "512m"  # SPARK_DAEMON_MEMORY: the listing of a cluster's applications, not a fleet's
HISTORY_MEMORY: Final = "1Gi"
HISTORY_CPU: Final = "100m"
# Spark's defaults scan every 10 s; a finished cluster's directory changes no more, so 30 s is plenty, and
# replaying an application on first view is what takes time (spark.history.fs.numReplayThreads).
HISTORY_PROPERTIES: Final = {
    "spark.history.ui.port": str(HISTORY_UI_PORT),
    "spark.history.fs.update.interval": "30s",
    "spark.history.fs.cleaner.enabled": "false",  # the logs belong to the cluster's logUri, not to us
}


def history_server_name(resolved: ResolvedCluster) -> str:
    """`<cluster>-history`: the pod's and the NetworkPolicy's name."""
    return f"{resolved.name}-history"


def history_labels(resolved: ResolvedCluster) -> dict[str, str]:
    return {**resolved.labels, c.LABEL_ROLE: ROLE_HISTORY}


def history_s3_properties(resolved: ResolvedCluster) -> dict[str, str]:
    """The cluster's S3 settings as its drivers get them: the S3A properties (`fs.s3a.*`, `fs.s3*.impl`) of
    its final core-site (spec.s3 and the core-site classification), without the rest (fs.defaultFS names the
    cluster's HDFS, which the history server has no use for)."""
    core_site = resolved.client_configuration.get(Classification.CORE_SITE) or resolved.s3.core_site
    return {k: v for k, v in sorted(core_site.items()) if k.startswith("fs.s3a.") or S3_IMPL.fullmatch(k)}


def history_options(resolved: ResolvedCluster) -> str:
    """SPARK_HISTORY_OPTS: the log directory and the cluster's S3A settings (as spark.hadoop.*, which the
    history server copies into its Hadoop configuration), as JVM -D options."""
    properties = {
        **HISTORY_PROPERTIES,
        "spark.history.fs.logDirectory": resolved.event_log_dir or "",
        **{f"spark.hadoop.{key}": value for key, value in history_s3_properties(resolved).items()},
    }
    return " ".join(shell_quote(f"-D{key}={value}") for key, value in properties.items())


def build_history_pod(resolved: ResolvedCluster) -> dict[str, Any]:
    """The history server's pod (not a Deployment: the operator deletes it HISTORY_TTL_SECONDS after the last
    request; activeDeadlineSeconds ends a running one even if the operator is down). Raises ValueError without
    resolved.event_log_dir."""
    if not resolved.event_log_dir:
        raise ValueError(f"EMRCluster {resolved.name} has no event log directory (spec.logUri is unset)")
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": HISTORY_DEADLINE_SECONDS,
        # No API access: a user's service account (workload identity for S3) needs no Kubernetes token, and
        # EKS's and GKE's identity mechanisms bring their own.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "containers": [
            {
                "name": HISTORY_CONTAINER,
                "image": resolved.spark_image,
                "imagePullPolicy": resolved.image_pull_policy,
                # spark-class in the foreground: sbin/start-history-server.sh would daemonize.
                "command": [
                    "/opt/spark/bin/spark-class",
                    "org.apache.spark.deploy.history.HistoryServer",
                ],
                "env": [
                    {"name": "SPARK_HISTORY_OPTS", "value": history_options(resolved)},
                    {"name": "SPARK_DAEMON_MEMORY", "value": HISTORY_HEAP},
                    {"name": "SPARK_LOG_DIR", "value": "/tmp/logs/spark"},
                    {"name": "HOME", "value": "/tmp"},
                    *(dict(var) for var in resolved.s3.env),
                ],
                "ports": [{"name": "history-ui", "containerPort": HISTORY_UI_PORT}],
                "readinessProbe": {
                    "httpGet": {"path": "/api/v1/version", "port": HISTORY_UI_PORT},
                    "periodSeconds": 2,
                },
                "resources": {
                    "requests": {"cpu": HISTORY_CPU, "memory": HISTORY_MEMORY},
                    "limits": {"memory": HISTORY_MEMORY},
                },
                "securityContext": container_security_context(),
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
        **placement_spec(resolved.master.placement),
    }
    if (
        not resolved.create_service_account
    ):  # a user's account (workload identity for S3) outlives the cluster
        spec["serviceAccountName"] = resolved.service_account_name
    if resolved.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in resolved.image_pull_secrets]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": history_server_name(resolved),
            "namespace": resolved.namespace,
            "labels": history_labels(resolved),
        },
        "spec": spec,
    }


def build_history_network_policy(resolved: ResolvedCluster) -> dict[str, Any]:
    """No ingress of its own: the UI is reached through `kubectl port-forward`, which the kubelet connects
    inside the pod's network namespace (NetworkPolicy doesn't apply); this policy outlives the cluster's,
    which admits the cluster's own pods while it runs. Egress stays open: S3 may be anywhere."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": history_server_name(resolved),
            "namespace": resolved.namespace,
            "labels": history_labels(resolved),
        },
        "spec": {
            "podSelector": {"matchLabels": {c.LABEL_CLUSTER: resolved.name, c.LABEL_ROLE: ROLE_HISTORY}},
            "policyTypes": ["Ingress"],
        },
    }
