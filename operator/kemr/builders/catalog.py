"""A DataCatalog's children: the metastore's configuration, Deployment and Service; for an in-cluster
database, its StatefulSet (PostgreSQL on a volume), Service and generated credentials. Pure.

The data-plane image runs both (docs/image-contract.md, "Hive metastore"): `kemr-postgres`, then
`kemr-metastore-schema` (Hive's schema tool: creates or upgrades the schema) and `kemr-metastore`.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from kemr.api.constants import LABEL_ROLE
from kemr.applications.hive import METASTORE_PORT
from kemr.builders.overrides import apply_pod_overrides
from kemr.builders.pod import (
    config_hash,
    container_resources,
    container_security_context,
    placement_spec,
    pod_security_context,
)
from kemr.builders.render import render_hadoop_site_text
from kemr.resolve import layout
from kemr.resolve.catalog import DATABASE_NAME, DATABASE_USER, ResolvedCatalog

METASTORE: Final = "metastore"
SCHEMA: Final = "schema"
POSTGRES: Final = "postgres"
CONFIG_VOLUME: Final = "config"
TMP_VOLUME: Final = "tmp"
DATA_VOLUME: Final = "data"
METASTORE_CONF_DIR: Final = f"{layout.CONF_DIR}/hive"
PGDATA: Final = layout.DATA_DIR  # kemr-postgres keeps its cluster in PGDATA/pgdata (beside lost+found)
# How long the schema tool waits for the database before the pod fails and says why (the init container's
# termination message names the JDBC URL), then tries again with the kubelet's back-off.
DATABASE_WAIT_SECONDS: Final = 60
REVISION_HISTORY_LIMIT: Final = 5
CONFIG_HASH_ANNOTATION: Final = "kemr.io/config-hash"
_EDIT: Final = "Edit the DataCatalog's spec"


def _meta(resolved: ResolvedCatalog, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": resolved.namespace,
        "labels": {**resolved.labels, **(labels or {})},
        "ownerReferences": [dict(resolved.owner_reference)],
    }


def metastore_config_data(resolved: ResolvedCatalog) -> dict[str, str]:
    """metastore-site.xml and core-site.xml, as the metastore reads them from METASTORE_CONF_DIR."""
    return {
        "metastore-site.xml": render_hadoop_site_text(_EDIT, resolved.metastore_site),
        "core-site.xml": render_hadoop_site_text(_EDIT, resolved.core_site),
    }


def build_metastore_config_map(resolved: ResolvedCatalog) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(resolved, resolved.metastore_name),
        "data": metastore_config_data(resolved),
    }


def build_database_secret(resolved: ResolvedCatalog, password: str) -> dict[str, Any]:
    """The in-cluster database's credentials, made once with a random `password` (the controller creates it
    when missing and never rewrites it: the database keeps the password it was initialised with)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        # Not owned by the DataCatalog: kept, as the database's volume is, when the catalog is deleted.
        "metadata": {
            k: v
            for k, v in _meta(resolved, resolved.database.credentials_secret).items()
            if k != "ownerReferences"
        },
        "type": "Opaque",
        "stringData": {
            resolved.database.username_key: DATABASE_USER,
            resolved.database.password_key: password,
        },
    }


def _secret_env(resolved: ResolvedCatalog, name: str, key: str) -> dict[str, Any]:
    return {
        "name": name,
        "valueFrom": {"secretKeyRef": {"name": resolved.database.credentials_secret, "key": key}},
    }


def _credentials_env(resolved: ResolvedCatalog) -> list[dict[str, Any]]:
    db = resolved.database
    return [
        _secret_env(resolved, "METASTORE_DB_USER", db.username_key),
        _secret_env(resolved, "METASTORE_DB_PASSWORD", db.password_key),
    ]


def _tcp_probe(port: int, period: int, failures: int, initial_delay: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "tcpSocket": {"port": port},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    return probe


def _pod_spec(
    resolved: ResolvedCatalog, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        **placement_spec(resolved.placement),
        "securityContext": pod_security_context(),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": containers,
        "volumes": [{"name": TMP_VOLUME, "emptyDir": {}}, *volumes],
    }
    if resolved.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in resolved.image_pull_secrets]
    return spec


def _with_overrides(resolved: ResolvedCatalog, template: dict[str, Any]) -> dict[str, Any]:
    if not resolved.pod_overrides:
        return template
    return apply_pod_overrides(template, [copy.deepcopy(dict(resolved.pod_overrides))])


def _metastore_container(resolved: ResolvedCatalog, name: str, command: str) -> dict[str, Any]:
    env = [
        {"name": "METASTORE_CONF_DIR", "value": METASTORE_CONF_DIR},
        *_credentials_env(resolved),
        *[dict(e) for e in resolved.s3.env],
    ]
    return {
        "name": name,
        "image": resolved.image,
        "imagePullPolicy": resolved.image_pull_policy,
        "command": [command],
        "env": env,
        "resources": container_resources(resolved.metastore_size),
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": CONFIG_VOLUME, "mountPath": METASTORE_CONF_DIR, "readOnly": True},
            {"name": TMP_VOLUME, "mountPath": layout.TMP_DIR},
        ],
    }


def build_metastore_deployment(resolved: ResolvedCatalog) -> dict[str, Any]:
    """The metastore: an init container creates or upgrades the schema (waiting up to DATABASE_WAIT_SECONDS
    for the database, then failing with the reason), then the thrift server on METASTORE_PORT."""
    schema = _metastore_container(resolved, SCHEMA, "kemr-metastore-schema")
    schema["env"].append({"name": "METASTORE_DB_WAIT_SECONDS", "value": str(DATABASE_WAIT_SECONDS)})
    server = _metastore_container(resolved, METASTORE, "kemr-metastore")
    server["env"].append({"name": "METASTORE_HEAPSIZE_MB", "value": str(resolved.metastore_heap_mib)})
    server["ports"] = [{"name": "thrift", "containerPort": METASTORE_PORT}]
    server["readinessProbe"] = _tcp_probe(METASTORE_PORT, period=5, failures=3)
    server["livenessProbe"] = _tcp_probe(METASTORE_PORT, period=10, failures=6, initial_delay=60)
    labels = {**resolved.labels, **resolved.selector_labels}
    pod = _pod_spec(
        resolved, [server], [{"name": CONFIG_VOLUME, "configMap": {"name": resolved.metastore_name}}]
    )
    pod["initContainers"] = [schema]
    if resolved.service_account_name:  # S3 through workload identity: its token is injected for this account
        pod["serviceAccountName"] = resolved.service_account_name
    template = {
        "metadata": {
            "labels": labels,
            "annotations": {CONFIG_HASH_ANNOTATION: config_hash(metastore_config_data(resolved))},
        },
        "spec": pod,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(resolved, resolved.metastore_name, dict(resolved.selector_labels)),
        "spec": {
            "replicas": resolved.metastore_replicas,
            "selector": {"matchLabels": dict(resolved.selector_labels)},
            "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
            "template": _with_overrides(resolved, template),
        },
    }


def _service(
    resolved: ResolvedCatalog, name: str, selector: dict[str, str], port_name: str, port: int
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(resolved, name),
        "spec": {
            "selector": selector,
            "ports": [{"name": port_name, "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def build_metastore_service(resolved: ResolvedCatalog) -> dict[str, Any]:
    return _service(
        resolved, resolved.metastore_name, dict(resolved.selector_labels), "thrift", METASTORE_PORT
    )


def _database_selector(resolved: ResolvedCatalog) -> dict[str, str]:
    return {**resolved.selector_labels, LABEL_ROLE: "database"}


def build_database_statefulset(resolved: ResolvedCatalog) -> dict[str, Any]:
    """PostgreSQL on a volume kept when the StatefulSet (or the DataCatalog) is deleted: a catalog re-created
    with the same name finds its tables again."""
    db = resolved.database
    assert db.statefulset_name is not None
    assert db.service_name is not None
    selector = _database_selector(resolved)
    container = {
        "name": POSTGRES,
        "image": resolved.image,
        "imagePullPolicy": resolved.image_pull_policy,
        "command": ["kemr-postgres"],
        "env": [
            {"name": "PGDATA", "value": PGDATA},
            {"name": "POSTGRES_DB", "value": DATABASE_NAME},
            _secret_env(resolved, "POSTGRES_USER", db.username_key),
            _secret_env(resolved, "POSTGRES_PASSWORD", db.password_key),
        ],
        "ports": [{"name": POSTGRES, "containerPort": layout.POSTGRES_PORT}],
        "resources": container_resources(db.size),
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "readinessProbe": {
            "exec": {
                "command": ["pg_isready", "--host=127.0.0.1", f"--port={layout.POSTGRES_PORT}", "--quiet"]
            },
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": _tcp_probe(layout.POSTGRES_PORT, period=10, failures=6, initial_delay=30),
        "volumeMounts": [
            {"name": DATA_VOLUME, "mountPath": layout.DATA_DIR},
            {"name": TMP_VOLUME, "mountPath": layout.TMP_DIR},
        ],
    }
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": db.storage.size}},
    }
    if db.storage.storage_class_name:
        claim_spec["storageClassName"] = db.storage.storage_class_name
    template = {
        "metadata": {"labels": {**resolved.labels, **selector}},
        "spec": _pod_spec(resolved, [container], []),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(resolved, db.statefulset_name, selector),
        "spec": {
            "replicas": 1,
            "serviceName": db.service_name,
            "selector": {"matchLabels": selector},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
            "template": _with_overrides(resolved, template),
            "volumeClaimTemplates": [
                {"metadata": {"name": DATA_VOLUME, "labels": dict(resolved.labels)}, "spec": claim_spec}
            ],
        },
    }


def build_database_service(resolved: ResolvedCatalog) -> dict[str, Any]:
    assert resolved.database.service_name is not None
    return _service(
        resolved, resolved.database.service_name, _database_selector(resolved), POSTGRES, layout.POSTGRES_PORT
    )


def build_catalog_children(resolved: ResolvedCatalog) -> list[dict[str, Any]]:
    """Every child the catalog applies, in apply order: the database first (the metastore waits for it)."""
    children = []
    if resolved.database.in_cluster:
        children += [build_database_service(resolved), build_database_statefulset(resolved)]
    return [
        *children,
        build_metastore_config_map(resolved),
        build_metastore_service(resolved),
        build_metastore_deployment(resolved),
    ]
