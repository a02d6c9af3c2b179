"""ConfigMaps: one per group (its configuration files), one for the drivers, one with the scripts."""

from __future__ import annotations

from typing import Any

from kemr.builders.meta import object_meta
from kemr.builders.render import render_config_files, render_scripts
from kemr.resolve import ResolvedCluster, ResolvedGroup, layout


def group_config_data(group: ResolvedGroup) -> dict[str, str]:
    """What a group's pods read from SPARK_CONF_DIR and HADOOP_CONF_DIR."""
    return render_config_files(group.configuration)


def scripts_data() -> dict[str, str]:
    return render_scripts()


def build_group_config_map(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(resolved, group.config_map_name, group.labels),
        "data": group_config_data(group),
    }


def build_client_config_map(resolved: ResolvedCluster) -> dict[str, Any]:
    """The drivers' configuration (spark-submit in client mode): mounted by no daemon pod, so the one file
    that depends on group sizes (hdfs-site's dfs.replication) changes without rolling anything."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(resolved, resolved.client_config_map_name),
        "data": render_config_files(resolved.client_configuration),
    }


def build_scripts_config_map(resolved: ResolvedCluster) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(resolved, resolved.scripts_config_map_name),
        "data": scripts_data(),
    }


def build_hdfs_exclude_config_map(resolved: ResolvedCluster) -> dict[str, Any] | None:
    """The NameNode's dfs.hosts.exclude: DataNodes of shrinking core groups being decommissioned. Its content
    changes while the cluster runs; it is not part of any config hash (the NameNode re-reads it in place)."""
    if resolved.hdfs_exclude_config_map_name is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(resolved, resolved.hdfs_exclude_config_map_name),
        "data": {layout.HDFS_EXCLUDE_KEY: "".join(f"{ip}\n" for ip in resolved.hdfs_exclude)},
    }


def build_config_maps(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    """Scripts, drivers' configuration, the NameNode's exclude list, then one per group."""
    exclude = build_hdfs_exclude_config_map(resolved)
    return [
        build_scripts_config_map(resolved),
        build_client_config_map(resolved),
        *([exclude] if exclude else []),
        *(build_group_config_map(resolved, group) for group in resolved.groups),
    ]
