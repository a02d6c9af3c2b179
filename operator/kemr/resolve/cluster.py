"""resolve_cluster: an EMRCluster's spec and the operator's config in, every derived fact out. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kemr.api import (
    Application,
    ApplicationImages,
    CapacityType,
    Classification,
    Configuration,
    CoreGroup,
    EMRClusterSpec,
    Resources,
    S3Spec,
    TaskGroup,
)
from kemr.api import constants as c
from kemr.applications import APPLICATIONS, ApplicationModule, ClusterContext, enabled, files_of
from kemr.applications.base import ALL, DRIVER, DaemonContext, SpecError
from kemr.config import CapacityPlacement, OperatorConfig, Release
from kemr.resolve import layers, names
from kemr.resolve.errors import ResolveError
from kemr.resolve.model import (
    Endpoints,
    Placement,
    ResolvedCluster,
    ResolvedDaemon,
    ResolvedGroup,
    S3Settings,
    Storage,
)
from kemr.resolve.sizing import PodSizing, size_pod

S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"
S3A_ABSTRACT_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3A"


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
    decommissioning: Sequence[str] = (),
) -> ResolvedCluster:
    """Everything the builders need, computed once. Raises ResolveError for a spec it can't build.

    `task_replicas` holds the sizes managed scaling chose for task groups (default: the spec's `replicas`,
    else `minReplicas`); `spot_fallback_groups` names the spot task groups moved to on-demand as a whole;
    `on_demand_fallback` holds, per spot task group, how many pods run on on-demand next to it (managed spot
    fallback: only the shortfall moves, the spot pods stay to take spot capacity back when it returns);
    `core_replicas` holds core StatefulSets at their size while their leaving members decommission, and
    `decommissioning` lists those pods' IPs (an application's exclude list, see ClusterContext).
    """
    names.check_cluster_name(name)
    release = release_of(spec.release, config)
    modules = enabled(spec.applications)
    context = ClusterContext(
        name=name,
        namespace=namespace,
        uid=uid,
        spec=spec,
        release=release,
        master_host=f"{names.master_name(name)}.{namespace}.svc",
        core_nodes=sum(group.replicas for group in spec.core_groups),
        decommissioning=tuple(sorted(set(decommissioning))),
    )
    endpoints = _endpoints(context, modules)
    s3 = s3_settings(spec.s3, release)
    common_owned = _common_owned(context, modules, s3)
    release_layer = layers.release_defaults(release)
    cluster_layer = layers.spec_layer(spec.configurations)
    layers.check_renderable(cluster_layer, "spec.configurations")
    base = layers.merge_layers(release_layer, cluster_layer)
    cluster_overrides = (spec.pod_overrides,) if spec.pod_overrides else ()
    _check_unique_groups(spec)

    images = _images(spec.images, release, spec.release)
    apps = _Apps(context, modules, images, config)
    master = _master(apps, base, common_owned, cluster_overrides)
    core_groups = tuple(
        _core_group(apps, group, base, common_owned, cluster_overrides) for group in spec.core_groups
    )
    task_groups = tuple(
        _task_group(apps, group, base, common_owned, cluster_overrides, task_replicas, spot_fallback_groups)
        for group in spec.task_groups
    )
    if core_replicas:  # the drivers' defaults follow the spec (context.core_nodes), not a size held a while
        core_groups = tuple(
            dataclasses.replace(g, replicas=core_replicas.get(g.name, g.replicas)) for g in core_groups
        )
    log_uri = _cluster_log_uri(spec.log_uri, name, uid)
    event_log_dir = f"{log_uri}spark-events" if log_uri else None
    client = _client_configuration(
        context, modules, release_layer, cluster_layer, common_owned, core_groups, task_groups, event_log_dir
    )
    external_sa = spec.s3.credentials.service_account_name if spec.s3 and spec.s3.credentials else None
    return ResolvedCluster(
        name=name,
        namespace=namespace,
        uid=uid,
        release_label=spec.release,
        release=release,
        applications=tuple(m.application for m in modules),
        images=images,
        image_pull_policy=config.image_pull_policy,
        image_pull_secrets=config.image_pull_secrets,
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
        config_files=files_of(spec.applications),
        application_env=tuple(var for m in modules for var in m.env(context)),
        config_maps=tuple(item for m in modules for item in m.config_maps(context).items()),
    )


# --- cluster-wide facts ----------------------------------------------------------------------------------


def release_of(label: str, config: OperatorConfig) -> Release:
    try:
        return config.release(label)
    except KeyError:
        known = ", ".join(config.release_labels())
        raise ResolveError(
            "spec.release",
            f"{label!r} is not a release this operator knows (known: {known})",
            "UnknownRelease",
        ) from None


def _endpoints(context: ClusterContext, modules: Sequence[ApplicationModule]) -> Endpoints:
    urls: dict[str, str] = {}
    status: dict[str, str] = {}
    for module in modules:
        own = module.endpoints(context)
        urls.update(own)
        status.update({key: own[key] for key in module.status_endpoints})
    return Endpoints(master=urls["master"], web_ui=urls["webUI"], urls=urls, status=status)


def _images(images: ApplicationImages | None, release: Release, label: str) -> dict[Application, str]:
    """Every registered application's image: spec.images' if set, else the release's (its own image for an
    application that has one, e.g. Trino's, else the data-plane image)."""
    return {
        app: (module.image(images) if images else None)
        or (module.release_image(release, label) if module.release_image else release.image_or_default(label))
        for app, module in APPLICATIONS.items()
    }


def _layer(*parts: layers.LayersView) -> layers.Layers:
    return layers.merge_layers(layers.empty_layers(), *parts)


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


def s3_settings(s3: S3Spec | None, release: Release) -> S3Settings:
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


def _common_owned(
    context: ClusterContext, modules: Sequence[ApplicationModule], s3: S3Settings
) -> layers.Layers:
    """Owned properties of every pod and driver: s3:// via S3A, a local default filesystem unless an
    application serves one, and what each application sets everywhere (where its daemons are)."""
    owned = layers.empty_layers()
    owned[Classification.CORE_SITE].update(
        {
            "fs.defaultFS": "file:///",
            "fs.s3.impl": S3A_FILESYSTEM,
            "fs.AbstractFileSystem.s3.impl": S3A_ABSTRACT_FILESYSTEM,
            **s3.core_site,
        }
    )
    return _layer(owned, *(m.properties(context, ALL) for m in modules))


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


def placement_of(capacity: CapacityType, config: OperatorConfig) -> Placement:
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


@dataclass(frozen=True)
class _Apps:
    """The enabled applications of one cluster, and what resolving a group asks of them."""

    context: ClusterContext
    modules: tuple[ApplicationModule, ...]
    images: Mapping[Application, str]
    config: OperatorConfig

    def owned(self, role: str) -> layers.Layers:
        """What the applications set in the pods of `role` (or the drivers)."""
        return _layer(*(m.properties(self.context, role) for m in self.modules))

    def daemons(
        self, role: str, resources: Resources, field: str, subject: str
    ) -> tuple[tuple[ResolvedDaemon, ...], tuple[tuple[str, str], ...], int | None, int | None, PodSizing]:
        """The role's daemons sized and their environment, the volumes they mount, and (core and task
        pods) what the Spark worker offers executors."""
        declared = [(m, d) for m in self.modules for d in m.role_daemons(self.context, role)]
        sizing = size_pod(
            resources, [d for _, d in declared], self.config.sizing, field, subject, role != c.ROLE_MASTER
        )
        daemons = tuple(
            ResolvedDaemon(
                name=daemon.name,
                image=self.images[module.application],
                entrypoint=daemon.entrypoint,
                ports=daemon.ports,
                liveness_port=daemon.liveness_port,
                env=daemon.env(
                    DaemonContext(self.context, heap, sizing.worker_cores, sizing.worker_memory_mib)
                ),
                size=size,
                heap_mib=heap,
                mounts=tuple((m.volume, m.path, m.read_only) for m in daemon.mounts),
                pre_stop=daemon.pre_stop,
                init=daemon.init,
            )
            for (module, daemon), (_, size, heap) in zip(declared, sizing.daemons, strict=True)
        )
        mounted = {mount[0] for daemon in daemons for mount in daemon.mounts}
        volumes = tuple(
            (volume.name, volume.config_map(self.context.name))
            for m in self.modules
            for volume in m.volumes.get(role, ())
            if volume.name in mounted
        )
        return daemons, volumes, sizing.worker_cores, sizing.worker_memory_mib, sizing


def _group(
    *,
    apps: _Apps,
    role: str,
    name: str,
    field: str,
    replicas: int,
    capacity: CapacityType,
    resources: Resources,
    subject: str,
    storage: Storage | None,
    configuration: layers.LayersView,
    pod_overrides: tuple[Mapping[str, Any], ...],
) -> ResolvedGroup:
    cluster = apps.context.name
    workload = names.group_workload_name(cluster, role, name)
    names.check_workload_name(workload, f"{field}.name" if role != c.ROLE_MASTER else "metadata.name")
    headless = None
    if role == c.ROLE_MASTER:
        headless = names.master_headless_name(cluster)
    elif role == c.ROLE_CORE:
        headless = workload
    daemons, volumes, worker_cores, worker_memory, sizing = apps.daemons(role, resources, field, subject)
    return ResolvedGroup(
        role=role,
        name=name,
        field=field,
        workload_name=workload,
        headless_service_name=headless,
        config_map_name=names.config_map_name(workload),
        replicas=replicas,
        placement=placement_of(capacity, apps.config),
        labels=names.group_labels(cluster, role, name),
        selector_labels=names.selector_labels(cluster, role, name),
        pod=sizing.pod,
        daemons=daemons,
        volumes=volumes,
        worker_cores=worker_cores,
        worker_memory_mib=worker_memory,
        storage=storage,
        configuration=configuration,
        pod_overrides=pod_overrides,
    )


def _master(
    apps: _Apps,
    base: layers.LayersView,
    common_owned: layers.LayersView,
    cluster_overrides: tuple[Mapping[str, Any], ...],
) -> ResolvedGroup:
    master = apps.context.spec.master
    return _group(
        apps=apps,
        role=c.ROLE_MASTER,
        name=c.ROLE_MASTER,
        field="spec.master",
        replicas=1,
        capacity=CapacityType.ON_DEMAND,
        resources=master.resources,
        subject="the master",
        storage=Storage(master.storage.size, master.storage.storage_class_name),
        configuration=_final_configuration(base, (), common_owned, apps.owned(c.ROLE_MASTER)),
        pod_overrides=cluster_overrides + ((master.pod_overrides,) if master.pod_overrides else ()),
    )


def _core_group(
    apps: _Apps,
    group: CoreGroup,
    base: layers.LayersView,
    common_owned: layers.LayersView,
    cluster_overrides: tuple[Mapping[str, Any], ...],
) -> ResolvedGroup:
    field = f"spec.coreGroups[{group.name}]"
    layers.check_renderable(layers.spec_layer(group.configurations), f"{field}.configurations")
    return _group(
        apps=apps,
        role=c.ROLE_CORE,
        name=group.name,
        field=field,
        replicas=group.replicas,
        capacity=CapacityType.ON_DEMAND,
        resources=group.resources,
        subject="a core pod",
        storage=Storage(group.storage.size, group.storage.storage_class_name),
        configuration=_final_configuration(base, group.configurations, common_owned, apps.owned(c.ROLE_CORE)),
        pod_overrides=cluster_overrides + ((group.pod_overrides,) if group.pod_overrides else ()),
    )


def _task_group(
    apps: _Apps,
    group: TaskGroup,
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
        apps=apps,
        role=c.ROLE_TASK,
        name=group.name,
        field=field,
        replicas=replicas,
        capacity=capacity,
        resources=group.resources,
        subject="a task pod",
        storage=None,
        configuration=_final_configuration(base, group.configurations, common_owned, apps.owned(c.ROLE_TASK)),
        pod_overrides=cluster_overrides + ((group.pod_overrides,) if group.pod_overrides else ()),
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
                placement=placement_of(CapacityType.ON_DEMAND, config),
                labels={**group.labels, **marker},
                selector_labels={**group.selector_labels, **marker},
                fallback_for=group.name,
            )
        )
    return tuple(result)


# --- drivers ---------------------------------------------------------------------------------------------


def _client_configuration(
    context: ClusterContext,
    modules: Sequence[ApplicationModule],
    release_layer: layers.LayersView,
    cluster_layer: layers.LayersView,
    common_owned: layers.LayersView,
    core_groups: Sequence[ResolvedGroup],
    task_groups: Sequence[ResolvedGroup],
    event_log_dir: str | None,
) -> layers.Layers:
    """The drivers' files. The only configuration that may depend on group sizes (the applications'
    driver_defaults): no daemon pod mounts it, so resizing a core group rolls nothing."""
    computed = layers.empty_layers()
    worker_memory = [g.worker_memory_mib for g in (*core_groups, *task_groups) if g.worker_memory_mib]
    if worker_memory:
        # One executor per worker, as large as the smallest worker offers (EMR's maximizeResourceAllocation).
        computed[Classification.SPARK_DEFAULTS]["spark.executor.memory"] = f"{min(worker_memory)}m"
    try:
        computed = _layer(computed, *(m.driver_defaults(context, cluster_layer) for m in modules))
    except SpecError as error:
        raise ResolveError(error.field, error.message) from None
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
    owned = _layer(*(m.properties(context, DRIVER) for m in modules))
    owned[Classification.SPARK_DEFAULTS]["spark.submit.deployMode"] = "client"
    if event_log_dir:
        computed[Classification.SPARK_DEFAULTS]["spark.eventLog.enabled"] = "true"
        owned[Classification.SPARK_DEFAULTS]["spark.eventLog.dir"] = event_log_dir
    # Computed defaults sit between the release's and the spec's: the spec's configurations win over them.
    merged = layers.merge_layers(release_layer, computed, cluster_layer)
    return layers.force_owned(merged, layers.merge_layers(common_owned, owned))
