"""What an application declares (`ApplicationModule`): the daemons it runs per role, the configuration files
and keys it owns, its endpoints, its share of a pod's resources and its checks of the spec. Pure data and
pure functions: no Kubernetes objects are built here (kemr.builders renders the declarations) and no spec
is resolved here (kemr.resolve calls the functions).

Imports only kemr.api and kemr.config, so kemr.validate (owned keys, spec checks) and kemr.resolve can use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kemr.api import Application, ApplicationImages, Classification, EMRClusterSpec
from kemr.api import constants as c
from kemr.config import Release, Sizing

Env = tuple[Mapping[str, Any], ...]
"""Container environment entries (`{"name": ..., "value": ...}` or `valueFrom`)."""
Properties = Mapping[Classification, Mapping[str, str]]
"""Configuration properties per classification, as a layer (kemr.resolve.layers)."""
Issue = tuple[str, str]
"""A problem of the spec: (field path, message naming the fix)."""

# The places an application contributes to (kemr.api.constants' role names, and the drivers).
MASTER = c.ROLE_MASTER
CORE = c.ROLE_CORE
TASK = c.ROLE_TASK
DRIVER = c.ROLE_DRIVER
ALL = "all"  # owned properties of every daemon and driver
CONF_DIR = "/etc/kemr/conf"  # the group's ConfigMap: each ConfigFile at CONF_DIR/<its path>
DATA_DIR = "/data"  # the pod's data volume (a PVC on master and core pods, an emptyDir on task pods)
MIN_DAEMON_MEMORY_MIB = 256  # below this a JVM daemon doesn't start


class SpecError(ValueError):
    """A spec an application can't work with (kemr.resolve turns it into a ResolveError naming `field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ContainerSize:
    """Memory is request = limit; CPU a request only."""

    cpu_millis: int
    memory_mib: int


def jvm_heap(size: ContainerSize, sizing: Sizing) -> int:
    """A daemon's JVM heap: the operator's share (jvmHeapFraction) of its container's memory."""
    return int(size.memory_mib * sizing.jvm_heap_fraction)


@dataclass(frozen=True)
class OwnedKey:
    """A key (or, with `prefix`, every key starting with it) the operator sets itself."""

    key: str
    why: str
    prefix: bool = False

    def matches(self, key: str) -> bool:
        return key.startswith(self.key) if self.prefix else key == self.key


@dataclass(frozen=True)
class ClusterContext:
    """What an application's declarations are computed from: the spec and what is known before any group is
    resolved."""

    name: str
    namespace: str
    uid: str
    spec: EMRClusterSpec
    release: Release
    master_host: str
    """The master's client Service, `<cluster>-master.<namespace>.svc`: where the master's daemons answer."""
    core_nodes: int
    """Core pods the spec asks for (all core groups): what replication may count on."""
    decommissioning: tuple[str, ...] = ()
    """IPs of core pods leaving (a shrinking core group), sorted: see kemr.status.decommission."""

    def enabled(self, application: Application) -> bool:
        return application in self.spec.applications


@dataclass(frozen=True)
class DaemonContext:
    """What a daemon's environment is computed from: its cluster, its own heap and, beside a Spark worker,
    what the worker offers executors."""

    cluster: ClusterContext
    heap_mib: int
    worker_cores: int | None
    worker_memory_mib: int | None


@dataclass(frozen=True)
class Port:
    name: str
    port: int


@dataclass(frozen=True)
class Mount:
    """A volume of the pod mounted into the daemon (beside the shared ones and the data volume)."""

    volume: str
    path: str
    read_only: bool = True


@dataclass(frozen=True)
class Daemon:
    """A long-running container an application adds to the pods of one role. Its ports are published by the
    role's Services (the master's client and headless Services, a core group's headless Service)."""

    name: str
    """Container name (podOverrides address it by name; probe.py runs the check of this name)."""
    label: str
    """How a CPU shortage names it: `the master needs at least 2m (Spark master + NameNode)`."""
    what: str
    """How a memory shortage names it: `it leaves 200Mi for the HDFS NameNode`."""
    entrypoint: str
    """Its script in the cluster's scripts ConfigMap (`scripts`)."""
    ports: tuple[Port, ...]
    liveness_port: int
    """Startup and liveness are a TCP check of this port; readiness is probe.py's check `name` (the
    function of its name, `-` as `_`, in its application's `probe_checks`)."""
    env: Callable[[DaemonContext], Env]
    """Its own environment, after every container's."""
    heap: Callable[[ContainerSize, Sizing], int]
    """Its JVM heap in MiB, from its container's size."""
    share: Callable[[ContainerSize, Sizing], ContainerSize] | None = None
    """What it takes from the pod's resources; None for the pod's main daemon (Spark's), which gets what
    the others leave. Each daemon needs at least 1m of CPU."""
    share_of_rest: bool = False
    """`share` is given what the daemons before it (earlier applications') left, not the whole pod."""
    min_memory_mib: int | None = None
    """Below this the pod is refused (`... is too small: it leaves 200Mi for <what>`)."""
    readiness: str = ""
    """What its readiness check asks, for probe.py's docstring (lines indented as the others')."""
    mounts: tuple[Mount, ...] = ()
    pre_stop: str | None = None
    """A script run before the container stops (the preStop hook), e.g. a Spark worker's decommission."""
    init: str | None = None
    """A script run once before the pod's daemons start, as an init container `<name>-init` after the
    bootstrap actions, with the daemon's image, environment and mounts (e.g. a schema to create)."""
    when: Callable[[ClusterContext], bool] | None = None
    """Whether it runs in this cluster (None: whenever its application is enabled), e.g. not with an
    external service."""


@dataclass(frozen=True)
class ConfigFile:
    """A configuration file an application renders from one classification, into every group's ConfigMap and
    the drivers', mounted at CONF_DIR/`path`."""

    key: str
    """ConfigMap key, e.g. `hdfs-site.xml`."""
    path: str
    """Under the configuration mount (SPARK_CONF_DIR is `spark/`, HADOOP_CONF_DIR `hadoop/`)."""
    format: Literal["hadoop-xml", "properties", "spark-env", "template"]
    """How it is rendered: a Hadoop `<configuration>` (its keys are owned as `spark.hadoop.<key>` in Spark
    conf too), java.util.Properties, spark-env.sh, or a fixed template (`template`)."""
    classification: Classification | None = None
    """The classification it renders (None for a template)."""
    header: str = ""
    """The first line of a properties file."""
    template: str = ""
    always: bool = False
    """Rendered for clusters that don't enable its application too (a client of it reads the file)."""


@dataclass(frozen=True)
class Script:
    """A file of the cluster's scripts ConfigMap, rendered from a template of kemr/builders/templates or
    its application's kemr/applications/<app>/templates with `context` (plus `scripts_dir`)."""

    key: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigMapVolume:
    """A ConfigMap of the cluster's own (`config_maps`) mounted in the pods of a role as a volume `name`,
    whole (not by subPath), so the kubelet refreshes it while the pod runs."""

    name: str
    config_map: Callable[[str], str]
    """Its ConfigMap's name, from the cluster's name."""


def _no_properties(context: ClusterContext, role: str) -> Properties:
    del context, role
    return {}


def _no_computed(context: ClusterContext, configurations: Properties) -> Properties:
    del context, configurations
    return {}


def _no_issues(spec: EMRClusterSpec) -> Iterator[Issue]:
    del spec
    return iter(())


def _no_env(context: ClusterContext) -> Env:
    del context
    return ()


def _no_endpoints(context: ClusterContext) -> Mapping[str, str]:
    del context
    return {}


def _no_config_maps(context: ClusterContext) -> Mapping[str, Mapping[str, str]]:
    del context
    return {}


@dataclass(frozen=True)
class ApplicationModule:
    """One application of `spec.applications` (Spark, HDFS...): everything the operator's stages need to know
    of it, registered once in kemr.applications.APPLICATIONS. The stages iterate over the enabled ones and
    never name one. Adding an application: docs/operator.md, "Adding an application".
    """

    application: Application
    """Its name in spec.applications."""
    image: Callable[[ApplicationImages], str | None]
    """The image spec.images sets for its daemons (None: the release's image)."""
    release_image: Callable[[Release, str], str] | None = None
    """Its image in a release (the release and its label) when spec.images sets none; None: the release's
    data-plane image (Spark's)."""
    daemons: Mapping[str, tuple[Daemon, ...]] = field(default_factory=dict)
    """Per role (MASTER, CORE, TASK): the containers it adds to the pods, after the earlier applications'."""
    volumes: Mapping[str, tuple[ConfigMapVolume, ...]] = field(default_factory=dict)
    """Per role: volumes its daemons mount (`Daemon.mounts`) beside the shared ones."""
    config_maps: Callable[[ClusterContext], Mapping[str, Mapping[str, str]]] = _no_config_maps
    """ConfigMaps of its own (name → data), beside the cluster's; not part of any pod's config hash."""
    files: tuple[ConfigFile, ...] = ()
    """The configuration files it renders (its classifications)."""
    scripts: tuple[Script, ...] = ()
    """Its entrypoints and helpers in the scripts ConfigMap."""
    probe_checks: str = ""
    """A template of its kemr/applications/<app>/templates defining the readiness check of each of its
    daemons in probe.py (Python functions named after them), rendered with `probe_context`."""
    probe_context: Mapping[str, Any] = field(default_factory=dict)
    """What its checks need (ports)."""
    owned: Mapping[Classification, tuple[OwnedKey, ...]] = field(default_factory=dict)
    """Keys users may not set in `configurations` (nor, for a Hadoop file, as spark.hadoop.<key>), with the
    reason: refused by kemr.validate. Owned whether or not a cluster enables the application."""
    forced: Mapping[Classification, frozenset[str]] = field(default_factory=dict)
    """Keys resolving removes from the merged configuration before putting its own values in."""
    properties: Callable[[ClusterContext, str], Properties] = _no_properties
    """The values it sets, per place (ALL, MASTER, CORE, TASK, DRIVER): owned, they win over the user's."""
    driver_defaults: Callable[[ClusterContext, Properties], Properties] = _no_computed
    """Computed defaults of the drivers' files (user configurations win), from the cluster's
    configurations (spec.configurations as a layer). The drivers' ConfigMap rolls no pod, so these may
    follow group sizes."""
    env: Callable[[ClusterContext], Env] = _no_env
    """Environment of every container of the cluster (init containers and drivers too)."""
    endpoints: Callable[[ClusterContext], Mapping[str, str]] = _no_endpoints
    """Its addresses, by name. Those named in `status_endpoints` are reported in status.endpoints."""
    status_endpoints: tuple[str, ...] = ()
    """Names of `endpoints` reported in status.endpoints (fields of kemr.api.cluster.Endpoints, by alias)."""
    crd_rules: Callable[[EMRClusterSpec], Iterator[Issue]] = _no_issues
    """The CRD's CEL rules about it (kemr.api.cluster), repeated for the operator's own verdict."""
    validate: Callable[[EMRClusterSpec], Iterator[Issue]] = _no_issues
    """Checks of a spec enabling it that the CRD can't express (refused at admission)."""
    decommissions_core: bool = False
    """Its core daemons hold data: a shrinking (or removed) core group keeps its pods until they are
    decommissioned (kemr.status.decommission, which today speaks HDFS's protocol: the NameNode's JMX,
    dfs.hosts.exclude; see docs/operator.md, "Adding an application")."""

    def role_daemons(self, context: ClusterContext, role: str) -> tuple[Daemon, ...]:
        """Its daemons in the pods of `role` of this cluster."""
        return tuple(d for d in self.daemons.get(role, ()) if d.when is None or d.when(context))


def hadoop_owned(modules: Sequence[ApplicationModule]) -> dict[Classification, tuple[OwnedKey, ...]]:
    """Owned keys of the Hadoop files (`hadoop-xml`): Spark conf owns them as spark.hadoop.<key> too."""
    xml = {f.classification for m in modules for f in m.files if f.format == "hadoop-xml"}
    return {cls: keys for m in modules for cls, keys in m.owned.items() if cls in xml}
