"""ConfigMaps: one per group (its configuration files), one for the drivers, one with the scripts."""

from __future__ import annotations

from typing import Any

from kemr.builders.meta import object_meta
from kemr.builders.render import render_config_files, render_scripts
from kemr.resolve import ResolvedCluster, ResolvedGroup


def group_config_data(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, str]:
    """What a group's pods read from SPARK_CONF_DIR and HADOOP_CONF_DIR."""
    return render_config_files(group.configuration, resolved.config_files)


def scripts_data() -> dict[str, str]:
    return render_scripts()


def build_group_config_map(resolved: ResolvedCluster, group: ResolvedGroup) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(resolved, group.config_map_name, group.labels),
        "data": group_config_data(resolved, group),
    }


def build_client_config_map(resolved: ResolvedCluster) -> dict[str, Any]:
    """The drivers' configuration (spark-submit in client mode): mounted by no daemon pod, so what depends on
    group sizes (the applications' driver defaults) changes without rolling anything."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(resolved, resolved.client_config_map_name),
        "data": render_config_files(resolved.client_configuration, resolved.config_files),
    }


def build_scripts_config_map(resolved: ResolvedCluster) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(resolved, resolved.scripts_config_map_name),
        "data": scripts_data(),
    }


def build_application_config_maps(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    """The enabled applications' own ConfigMaps (ApplicationModule.config_maps). Their content may change
    while the cluster runs; they are part of no config hash (a daemon re-reads them in place)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": object_meta(resolved, name),
            "data": dict(data),
        }
        for name, data in resolved.config_maps
    ]


def build_config_maps(resolved: ResolvedCluster) -> list[dict[str, Any]]:
    """Scripts, drivers' configuration, the applications' own, then one per group."""
    return [
        build_scripts_config_map(resolved),
        build_client_config_map(resolved),
        *build_application_config_maps(resolved),
        *(build_group_config_map(resolved, group) for group in resolved.groups),
    ]
