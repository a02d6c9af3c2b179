"""Services: the master's client Service (the cluster's endpoints), headless ones for the StatefulSets.

Every Service publishes not-ready pods: DataNodes must reach a NameNode still in safe mode and workers a
master still recovering, which is exactly when their pods aren't ready. Steps wait for the cluster to be
ready anyway.
"""

from __future__ import annotations

from typing import Any

from kemr.builders.meta import object_meta
from kemr.resolve import ResolvedCluster, ResolvedGroup, layout


def _ports(pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"name": name, "port": port, "targetPort": port, "protocol": "TCP"} for name, port in pairs]


def _master_ports(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    pairs = [("spark", layout.SPARK_MASTER_PORT), ("spark-ui", layout.SPARK_MASTER_UI_PORT)]
    if resolved.hdfs_enabled:
        pairs += [("nn-rpc", layout.NAMENODE_RPC_PORT), ("nn-http", layout.NAMENODE_HTTP_PORT)]
    return _ports(pairs)


def _worker_ports(group: ResolvedGroup) -> list[dict[str, Any]]:
    pairs = [("worker", layout.SPARK_WORKER_PORT), ("worker-ui", layout.SPARK_WORKER_UI_PORT)]
    if group.runs_hdfs:
        pairs += [
            ("dn-data", layout.DATANODE_DATA_PORT),
            ("dn-http", layout.DATANODE_HTTP_PORT),
            ("dn-ipc", layout.DATANODE_IPC_PORT),
        ]
    return _ports(pairs)


def _service(
    resolved: ResolvedCluster, name: str, group: ResolvedGroup, ports: list[dict[str, Any]], headless: bool
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "ClusterIP"}
    if headless:
        spec["clusterIP"] = "None"
    spec |= {
        "selector": dict(group.selector_labels),
        "publishNotReadyAddresses": True,
        "ports": ports,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(resolved, name, group.labels),
        "spec": spec,
    }


def build_master_service(resolved: ResolvedCluster) -> dict[str, Any]:
    """`<cluster>-master`: spark:// (7077), the web UI (8080), hdfs:// (8020) and the NameNode UI (9870)."""
    return _service(resolved, resolved.master_service_name, resolved.master, _master_ports(resolved), False)


def build_master_headless_service(resolved: ResolvedCluster) -> dict[str, Any]:
    master = resolved.master
    assert master.headless_service_name is not None
    return _service(resolved, master.headless_service_name, master, _master_ports(resolved), True)


def build_core_headless_service(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, Any]:
    assert group.headless_service_name is not None
    return _service(resolved, group.headless_service_name, group, _worker_ports(group), True)


def build_services(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    """Client and headless Services of the master, a headless Service per core group."""
    return [
        build_master_service(resolved),
        build_master_headless_service(resolved),
        *(build_core_headless_service(resolved, group) for group in resolved.core_groups),
    ]
