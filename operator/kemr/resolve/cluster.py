"""resolve_cluster: an EMRCluster's spec and the operator's config in, every derived fact out. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from kemr.api import (
    Application,
    CapacityType,
    Classification,
    Configuration,
    CoreGroup,
    EMRClusterSpec,
    S3Spec,
    TaskGroup,
)
from kemr.api import constants as c
from kemr.config import CapacityPlacement, OperatorConfig, Release
from kemr.resolve import layers, layout, names
from kemr.resolve.errors import ResolveError
from kemr.resolve.model import (
    Endpoints,
    Placement,
    ResolvedCluster,
    ResolvedGroup,
    S3Settings,
    Storage,
)
from kemr.resolve.sizing import PodSizing, size_master, size_worker

S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"
S3A_ABSTRACT_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3A"
MAX_DEFAULT_REPLICATION = 3


def resolve_cluster(
    name: str,
    namespace: str,
    uid: str,
    spec: EMRClusterSpec,
    config: OperatorConfig,
    *,
    task_replicas: Mapping[str, int] | None = None,
    spot_fallback_groups: Collection[str] = (),
    on_demand_fallback: Mapping[str, int] | None = None,
    core_replicas: Mapping[str, int] | None = None,
    hdfs_exclude: Sequence[str] = (),
) -> ResolvedCluster:
    """Everything the builders need, computed once. Raises ResolveError for a spec it can't build.

    `task_replicas` holds the sizes managed scaling chose for task groups (default: the spec's `replicas`,
    else `minReplicas`); `spot_fallback_groups` names the spot task groups moved to on-demand as a whole;
    `on_demand_fallback` holds, per spot task group, how many pods run on on-demand next to it (managed spot
    fallback: only the shortfall moves, the spot pods stay to take spot capacity back when it returns);
    `core_replicas` holds core StatefulSets at their size while their leaving DataNodes decommission, and
    `hdfs_exclude` lists those DataNodes (the NameNode's dfs.hosts.exclude).
    """
    names.check_cluster_name(name)
    release = _release(spec.release, config)
    hdfs = Application.HDFS in spec.applications
    endpoints = _endpoints(name, namespace, hdfs)
    s3 = _s3_settings(spec.s3, release)
    common_owned = _common_owned(endpoints, s3, hdfs)
    release_layer = layers.release_defaults(release)
    cluster_layer = layers.spec_layer(spec.configurations)
    layers.check_renderable(cluster_layer, "spec.configurations")
    base = layers.merge_layers(release_layer, cluster_layer)
    cluster_overrides = (spec.pod_overrides,) if spec.pod_overrides else ()
    _check_unique_groups(spec)

    master = _master(name, spec, config, hdfs, base, common_owned, cluster_overrides)
    core_groups = tuple(
        _core_group(name, index, group, config, hdfs, base, common_owned, cluster_overrides)
        for index, group in enumerate(spec.core_groups)
    )
    task_groups = tuple(
        _task_group(
            name,
            index,
            group,
            config,
            base,
            common_owned,
            cluster_overrides,
            task_replicas,
            spot_fallback_groups,
        )
        for index, group in enumerate(spec.task_groups)
    )
    replication = _hdfs_replication(spec.configurations, core_groups) if hdfs else None
    if core_replicas:  # after the replication factor: it follows the spec, not a size held for a while
        core_groups = tuple(
            dataclasses.replace(g, replicas=core_replicas.get(g.name, g.replicas)) for g in core_groups
        )
    log_uri = _cluster_log_uri(spec.log_uri, name, uid)
    event_log_dir = f"{log_uri}spark-events" if log_uri else None
    client = _client_configuration(
        release_layer, cluster_layer, common_owned, core_groups, task_groups, replication, event_log_dir
    )
    external_sa = spec.s3.credentials.service_account_name if spec.s3 and spec.s3.credentials else None
    images = spec.images
    release_image = release.image_or_default(spec.release)
    return ResolvedCluster(
        name=name,
        namespace=namespace,
        uid=uid,
        release_label=spec.release,
        release=release,
        spark_image=(images.spark if images and images.spark else release_image),
        hdfs_image=(images.hdfs if images and images.hdfs else release_image),
        image_pull_policy=config.image_pull_policy,
        image_pull_secrets=config.image_pull_secrets,
        hdfs_enabled=hdfs,
        hdfs_cluster_id=f"kemr-{uid}",
        hdfs_replication=replication,
        labels=names.cluster_labels(name),
        owner_reference=_owner_reference(name, uid),
        master_service_name=names.master_name(name),
        scripts_config_map_name=names.scripts_config_map_name(name),
        client_config_map_name=names.client_config_map_name(name),
        service_account_name=external_sa or names.service_account_name(name),
        create_service_account=external_sa is None,
        network_policy_name=names.network_policy_name(name) if spec.network_policy.enabled else None,
        network_policy_peers=_network_policy_peers(spec, config),
        endpoints=endpoints,
        master=master,
        core_groups=core_groups,
        task_groups=task_groups,
        client_configuration=client,
        s3=s3,
        log_uri=log_uri,
        event_log_dir=event_log_dir,
        bootstrap_actions=tuple(spec.bootstrap_actions),
        fallback_groups=_fallback_groups(name, task_groups, on_demand_fallback or {}, config),
        hdfs_exclude=tuple(sorted(set(hdfs_exclude))) if hdfs else (),
        hdfs_exclude_config_map_name=names.hdfs_exclude_config_map_name(name) if hdfs else None,
    )


# --- cluster-wide facts ----------------------------------------------------------------------------------


def _release(label: str, config: OperatorConfig) -> Release:
    try:
        return config.release(label)
    except KeyError:
        known = ", ".join(config.release_labels())
        raise ResolveError(
            "spec.release",
            f"{label!r} is not a release this operator knows (known: {known})",
            "UnknownRelease",
        ) from None


def _endpoints(cluster: str, namespace: str, hdfs: bool) -> Endpoints:
    host = f"{names.master_name(cluster)}.{namespace}.svc"
    return Endpoints(
        master=f"spark://{host}:{layout.SPARK_MASTER_PORT}",
        web_ui=f"http://{host}:{layout.SPARK_MASTER_UI_PORT}",
        hdfs=f"hdfs://{host}:{layout.NAMENODE_RPC_PORT}" if hdfs else None,
        namenode_ui=f"http://{host}:{layout.NAMENODE_HTTP_PORT}" if hdfs else None,
    )


def _owner_reference(cluster: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.CLUSTER_KIND,
        "name": cluster,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _check_unique_groups(spec: EMRClusterSpec) -> None:
    # The CRD's rules say so too; a duplicate would make two groups fight over one StatefulSet's pods.
    seen: set[str] = set()
    for field, group_names in (
        ("spec.coreGroups", [g.name for g in spec.core_groups]),
        ("spec.taskGroups", [g.name for g in spec.task_groups]),
    ):
        for index, group_name in enumerate(group_names):
            if group_name in seen:
                raise ResolveError(
                    f"{field}[{index}].name", f"group name {group_name!r} is used twice", "DuplicateGroup"
                )
            seen.add(group_name)


def _s3_settings(s3: S3Spec | None, release: Release) -> S3Settings:
    """S3A properties and the environment (credentials from the Secret, region and endpoint for AWS tools)."""
    if s3 is None:
        return S3Settings(env=(), core_site={})
    props: dict[str, str] = {"fs.s3a.path.style.access": "true" if s3.path_style_access else "false"}
    env: list[dict[str, Any]] = []
    if s3.endpoint:
        props["fs.s3a.endpoint"] = s3.endpoint
        props["fs.s3a.connection.ssl.enabled"] = "false" if s3.endpoint.startswith("http://") else "true"
        env.append({"name": "AWS_ENDPOINT_URL_S3", "value": s3.endpoint})
    if s3.region:
        props["fs.s3a.endpoint.region"] = s3.region
        env += [
            {"name": "AWS_REGION", "value": s3.region},
            {"name": "AWS_DEFAULT_REGION", "value": s3.region},
        ]
    credentials = s3.credentials
    if credentials is not None and credentials.secret_ref is not None:
        ref = credentials.secret_ref
        props["fs.s3a.aws.credentials.provider"] = release.s3_static_credentials_provider
        keys = [
            ("AWS_ACCESS_KEY_ID", ref.access_key_id_key),
            ("AWS_SECRET_ACCESS_KEY", ref.secret_access_key_key),
        ]
        if ref.session_token_key:
            keys.append(("AWS_SESSION_TOKEN", ref.session_token_key))
        env += [
            {"name": var, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": key}}} for var, key in keys
        ]
    elif credentials is not None and credentials.service_account_name is not None:
        props["fs.s3a.aws.credentials.provider"] = release.s3_workload_identity_credentials_provider
    return S3Settings(env=tuple(env), core_site=props)


def _common_owned(endpoints: Endpoints, s3: S3Settings, hdfs: bool) -> layers.Layers:
    """Owned properties of every pod and driver: where the master and the NameNode are, s3:// via S3A."""
    owned = layers.empty_layers()
    owned[Classification.SPARK_DEFAULTS]["spark.master"] = endpoints.master
    owned[Classification.CORE_SITE].update(
        {
            "fs.defaultFS": endpoints.hdfs or "file:///",
            "fs.s3.impl": S3A_FILESYSTEM,
            "fs.AbstractFileSystem.s3.impl": S3A_ABSTRACT_FILESYSTEM,
            **s3.core_site,
        }
    )
    if hdfs:
        host = endpoints.hdfs.removeprefix("hdfs://").rsplit(":", 1)[0] if endpoints.hdfs else ""
        owned[Classification.HDFS_SITE].update(
            {
                "dfs.namenode.rpc-address": f"{host}:{layout.NAMENODE_RPC_PORT}",
                "dfs.namenode.http-address": f"{host}:{layout.NAMENODE_HTTP_PORT}",
                # Pod IPs have no reverse DNS: the NameNode must take DataNodes by IP.
                "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            }
        )
    return owned


def _hdfs_replication(configurations: Sequence[Configuration], core_groups: Sequence[ResolvedGroup]) -> int:
    """The cluster's dfs.replication if set, else min(3, core nodes)."""
    for configuration in configurations:
        value = configuration.properties.get("dfs.replication")
        if configuration.classification is Classification.HDFS_SITE and value is not None:
            try:
                return int(value)
            except ValueError:
                raise ResolveError(
                    "spec.configurations", f"hdfs-site dfs.replication must be an integer, not {value!r}"
                ) from None
    core_nodes = sum(group.replicas for group in core_groups)
    return max(1, min(MAX_DEFAULT_REPLICATION, core_nodes))


def _cluster_log_uri(log_uri: str | None, cluster: str, uid: str) -> str | None:
    """`<logUri>/<cluster>-<uid prefix>/` through S3A: unique per cluster even when a name is reused."""
    if not log_uri:
        return None
    scheme, rest = log_uri.split("://", 1)
    base = f"s3a://{rest}" if scheme == "s3" else log_uri
    return f"{base.rstrip('/')}/{cluster}-{uid[:8]}/"


def _network_policy_peers(spec: EMRClusterSpec, config: OperatorConfig) -> tuple[dict[str, Any], ...]:
    peers = [peer.to_dict() for peer in spec.network_policy.allowed_clients]
    if config.operator_peer:
        peers.append(dict(config.operator_peer))
    return tuple(peers)


# --- groups ----------------------------------------------------------------------------------------------


def _placement(capacity: CapacityType, config: OperatorConfig) -> Placement:
    table: CapacityPlacement = (
        config.placement.for_spot() if capacity is CapacityType.SPOT else config.placement.for_on_demand()
    )
    return Placement(
        capacity_type=capacity,
        node_selector=dict(table.node_selector),
        tolerations=tuple(t.to_k8s() for t in table.tolerations),
        node_affinity=table.node_affinity(),
    )


def _final_configuration(
    base: layers.LayersView,
    group_configurations: Sequence[Configuration],
    common_owned: layers.LayersView,
    role_owned: layers.LayersView,
) -> layers.Layers:
    merged = layers.merge_layers(base, layers.spec_layer(group_configurations))
    return layers.force_owned(merged, layers.merge_layers(common_owned, role_owned))


def _group(
    *,
    cluster: str,
    role: str,
    name: str,
    field: str,
    replicas: int,
    capacity: CapacityType,
    sizing: PodSizing,
    storage: Storage | None,
    configuration: layers.LayersView,
    pod_overrides: tuple[Mapping[str, Any], ...],
    config: OperatorConfig,
) -> ResolvedGroup:
    workload = names.group_workload_name(cluster, role, name)
    names.check_workload_name(workload, f"{field}.name" if role != c.ROLE_MASTER else "metadata.name")
    headless = None
    if role == c.ROLE_MASTER:
        headless = names.master_headless_name(cluster)
    elif role == c.ROLE_CORE:
        headless = workload
    return ResolvedGroup(
        role=role,
        name=name,
        field=field,
        workload_name=workload,
        headless_service_name=headless,
        config_map_name=names.config_map_name(workload),
        replicas=replicas,
        placement=_placement(capacity, config),
        labels=names.group_labels(cluster, role, name),
        selector_labels=names.selector_labels(cluster, role, name),
        pod=sizing.pod,
        spark=sizing.spark,
        hdfs=sizing.hdfs,
        spark_daemon_heap_mib=sizing.spark_daemon_heap_mib,
        hdfs_heap_mib=sizing.hdfs_heap_mib,
        worker_cores=sizing.worker_cores,
        worker_memory_mib=sizing.worker_memory_mib,
        storage=storage,
        configuration=configuration,
        pod_overrides=pod_overrides,
    )


def _master(
    cluster: str,
    spec: EMRClusterSpec,
    config: OperatorConfig,
    hdfs: bool,
    base: layers.LayersView,
    common_owned: layers.LayersView,
    cluster_overrides: tuple[Mapping[str, Any], ...],
) -> ResolvedGroup:
    owned = layers.empty_layers()
    owned[Classification.SPARK_DEFAULTS].update(
        {
            # Registered workers and applications survive a master restart.
            "spark.deploy.recoveryMode": "FILESYSTEM",
            "spark.deploy.recoveryDirectory": layout.SPARK_RECOVERY_DIR,
        }
    )
    if hdfs:
        owned[Classification.HDFS_SITE].update(_namenode_site())
    master = spec.master
    return _group(
        cluster=cluster,
        role=c.ROLE_MASTER,
        name=c.ROLE_MASTER,
        field="spec.master",
        replicas=1,
        capacity=CapacityType.ON_DEMAND,
        sizing=size_master(master.resources, hdfs, config.sizing, "spec.master"),
        storage=Storage(master.storage.size, master.storage.storage_class_name),
        configuration=_final_configuration(base, (), common_owned, owned),
        pod_overrides=cluster_overrides + ((master.pod_overrides,) if master.pod_overrides else ()),
        config=config,
    )


def _namenode_site() -> dict[str, str]:
    return {
        "dfs.namenode.name.dir": f"file://{layout.NAMENODE_DIR}",
        "dfs.namenode.rpc-bind-host": "0.0.0.0",
        "dfs.namenode.servicerpc-bind-host": "0.0.0.0",
        "dfs.namenode.http-bind-host": "0.0.0.0",
        # DataNodes leaving a shrinking core group: the operator writes the file, the NameNode re-reads it.
        "dfs.hosts.exclude": layout.HDFS_EXCLUDE_FILE,
    }


def _datanode_site() -> dict[str, str]:
    return {
        "dfs.datanode.data.dir": f"file://{layout.DATANODE_DIR}",
        "dfs.datanode.address": f"0.0.0.0:{layout.DATANODE_DATA_PORT}",
        "dfs.datanode.http.address": f"0.0.0.0:{layout.DATANODE_HTTP_PORT}",
        "dfs.datanode.ipc.address": f"0.0.0.0:{layout.DATANODE_IPC_PORT}",
    }


def _worker_owned(datanode: bool) -> layers.Layers:
    owned = layers.empty_layers()
    # Reconnect through the master's Service (not its old pod IP) after the master pod is replaced.
    owned[Classification.SPARK_DEFAULTS]["spark.worker.preferConfiguredMasterAddress"] = "true"
    # SIGPWR (the preStop hook) decommissions the worker: no new executors, its own ones wound down.
    owned[Classification.SPARK_DEFAULTS]["spark.decommission.enabled"] = "true"
    if datanode:
        owned[Classification.HDFS_SITE].update(_datanode_site())
    return owned


def _core_group(
    cluster: str,
    index: int,
    group: CoreGroup,
    config: OperatorConfig,
    hdfs: bool,
    base: layers.LayersView,
    common_owned: layers.LayersView,
    cluster_overrides: tuple[Mapping[str, Any], ...],
) -> ResolvedGroup:
    field = f"spec.coreGroups[{group.name}]"
    layers.check_renderable(layers.spec_layer(group.configurations), f"{field}.configurations")
    return _group(
        cluster=cluster,
        role=c.ROLE_CORE,
        name=group.name,
        field=field,
        replicas=group.replicas,
        capacity=CapacityType.ON_DEMAND,
        sizing=size_worker(group.resources, hdfs, config.sizing, field),
        storage=Storage(group.storage.size, group.storage.storage_class_name),
        configuration=_final_configuration(base, group.configurations, common_owned, _worker_owned(hdfs)),
        pod_overrides=cluster_overrides + ((group.pod_overrides,) if group.pod_overrides else ()),
        config=config,
    )


def _task_group(
    cluster: str,
    index: int,
    group: TaskGroup,
    config: OperatorConfig,
    base: layers.LayersView,
    common_owned: layers.LayersView,
    cluster_overrides: tuple[Mapping[str, Any], ...],
    task_replicas: Mapping[str, int] | None,
    spot_fallback_groups: Collection[str],
) -> ResolvedGroup:
    field = f"spec.taskGroups[{group.name}]"
    layers.check_renderable(layers.spec_layer(group.configurations), f"{field}.configurations")
    replicas = group.replicas if group.replicas is not None else group.min_replicas
    if task_replicas and group.name in task_replicas:
        replicas = max(group.min_replicas, min(group.max_replicas, task_replicas[group.name]))
    capacity = group.capacity_type
    if capacity is CapacityType.SPOT and group.name in spot_fallback_groups:
        capacity = CapacityType.ON_DEMAND
    return _group(
        cluster=cluster,
        role=c.ROLE_TASK,
        name=group.name,
        field=field,
        replicas=replicas,
        capacity=capacity,
        sizing=size_worker(group.resources, False, config.sizing, field),
        storage=None,
        configuration=_final_configuration(base, group.configurations, common_owned, _worker_owned(False)),
        pod_overrides=cluster_overrides + ((group.pod_overrides,) if group.pod_overrides else ()),
        config=config,
    )


def _fallback_groups(
    cluster: str, task_groups: Sequence[ResolvedGroup], counts: Mapping[str, int], config: OperatorConfig
) -> tuple[ResolvedGroup, ...]:
    """A Deployment `<task workload>-od` per spot group with a shortfall: the same pods (same configuration
    and ConfigMap) on on-demand capacity. Its selector adds the fallback label, so the two Deployments never
    claim each other's pods."""
    result = []
    for group in task_groups:
        count = counts.get(group.name, 0)
        if count <= 0 or group.placement.capacity_type is not CapacityType.SPOT:
            continue
        marker = {c.LABEL_FALLBACK: CapacityType.ON_DEMAND.value}
        result.append(
            dataclasses.replace(
                group,
                workload_name=names.fallback_workload_name(group.workload_name),
                replicas=count,
                placement=_placement(CapacityType.ON_DEMAND, config),
                labels={**group.labels, **marker},
                selector_labels={**group.selector_labels, **marker},
                fallback_for=group.name,
            )
        )
    return tuple(result)


# --- drivers ---------------------------------------------------------------------------------------------


def _client_configuration(
    release_layer: layers.LayersView,
    cluster_layer: layers.LayersView,
    common_owned: layers.LayersView,
    core_groups: Sequence[ResolvedGroup],
    task_groups: Sequence[ResolvedGroup],
    replication: int | None,
    event_log_dir: str | None,
) -> layers.Layers:
    """The drivers' files. The only configuration that depends on group sizes (dfs.replication): no daemon pod
    mounts it, so resizing a core group rolls nothing."""
    computed = layers.empty_layers()
    worker_memory = [g.worker_memory_mib for g in (*core_groups, *task_groups) if g.worker_memory_mib]
    if worker_memory:
        # One executor per worker, as large as the smallest worker offers (EMR's maximizeResourceAllocation).
        computed[Classification.SPARK_DEFAULTS]["spark.executor.memory"] = f"{min(worker_memory)}m"
    if replication is not None:
        computed[Classification.HDFS_SITE]["dfs.replication"] = str(replication)
    # Executors of a decommissioning worker (scale-in, spot loss) finish their tasks and hand their shuffle
    # and cached blocks to others, so the job loses no work; overridable per cluster.
    computed[Classification.SPARK_DEFAULTS].update(
        {
            "spark.decommission.enabled": "true",
            "spark.storage.decommission.enabled": "true",
            "spark.storage.decommission.shuffleBlocks.enabled": "true",
            "spark.storage.decommission.rddBlocks.enabled": "true",
        }
    )
    owned = layers.empty_layers()
    owned[Classification.SPARK_DEFAULTS]["spark.submit.deployMode"] = "client"
    if event_log_dir:
        computed[Classification.SPARK_DEFAULTS]["spark.eventLog.enabled"] = "true"
        owned[Classification.SPARK_DEFAULTS]["spark.eventLog.dir"] = event_log_dir
    # Computed defaults sit between the release's and the spec's: the spec's configurations win over them.
    merged = layers.merge_layers(release_layer, computed, cluster_layer)
    return layers.force_owned(merged, layers.merge_layers(common_owned, owned))
