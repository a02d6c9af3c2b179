"""Services: the master's client Service (the cluster's endpoints), headless ones for the StatefulSets.

Every Service publishes not-ready pods: daemons must reach a master daemon still starting (DataNodes a
NameNode in safe mode, workers a master still recovering), which is exactly when their pods aren't ready.
Steps wait for the cluster to be ready anyway.
"""

from __future__ import annotations

from typing import Any

from kemr.builders.meta import object_meta
from kemr.resolve import ResolvedCluster, ResolvedGroup


def _ports(group: ResolvedGroup) -> list[dict[str, Any]]:
    """Every port of the group's daemons (the enabled applications' declarations)."""
    return [{"name": p.name, "port": p.port, "targetPort": p.port, "protocol": "TCP"} for p in group.ports]


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
    """`<cluster>-master`: every port of the master's daemons: spark:// (7077), the web UI (8080) and the
    other applications' (docs/operator.md lists them)."""
    return _service(resolved, resolved.master_service_name, resolved.master, _ports(resolved.master), False)


def build_master_headless_service(resolved: ResolvedCluster) -> dict[str, Any]:
    master = resolved.master
    assert master.headless_service_name is not None
    return _service(resolved, master.headless_service_name, master, _ports(resolved.master), True)


def build_core_headless_service(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, Any]:
    assert group.headless_service_name is not None
    return _service(resolved, group.headless_service_name, group, _ports(group), True)


def build_services(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    """Client and headless Services of the master, a headless Service per core group."""
    return [
        build_master_service(resolved),
        build_master_headless_service(resolved),
        *(build_core_headless_service(resolved, group) for group in resolved.core_groups),
    ]
