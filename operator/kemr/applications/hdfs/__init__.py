"""HDFS: a NameNode on the master, a DataNode in every core pod (task pods run none), hdfs:// as the
cluster's default filesystem. The DataNodes of a shrinking core group are decommissioned first: the
operator writes their IPs into the NameNode's dfs.hosts.exclude (a ConfigMap of this module's), the
decisions are kemr.status.decommission's."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Final

from kemr.api import Application, ApplicationImages, Classification, EMRClusterSpec
from kemr.applications.base import (
    ALL,
    CORE,
    DATA_DIR,
    MASTER,
    MIN_DAEMON_MEMORY_MIB,
    ApplicationModule,
    ClusterContext,
    ConfigFile,
    ConfigMapVolume,
    ContainerSize,
    Daemon,
    DaemonContext,
    Env,
    Issue,
    Mount,
    OwnedKey,
    Port,
    Properties,
    Script,
    SpecError,
    jvm_heap,
)
from kemr.config import Sizing

# Ports: Hadoop 3's defaults.
NAMENODE_RPC_PORT: Final = 8020
NAMENODE_HTTP_PORT: Final = 9870
DATANODE_DATA_PORT: Final = 9866
DATANODE_HTTP_PORT: Final = 9864
DATANODE_IPC_PORT: Final = 9867

NAMENODE_DIR: Final = f"{DATA_DIR}/hdfs/namenode"
NAMENODE_FORMATTED_MARKER: Final = f"{DATA_DIR}/hdfs/.kemr-formatted"
DATANODE_DIR: Final = f"{DATA_DIR}/hdfs/datanode"
# The NameNode's dfs.hosts.exclude (the DataNodes being decommissioned): a ConfigMap the operator rewrites,
# mounted whole (not by subPath) so the kubelet refreshes it in place.
EXCLUDE_VOLUME: Final = "hdfs-exclude"
EXCLUDE_DIR: Final = "/etc/kemr/hdfs-exclude"
EXCLUDE_KEY: Final = "dfs.exclude"
EXCLUDE_FILE: Final = f"{EXCLUDE_DIR}/{EXCLUDE_KEY}"
EXCLUDE_REFRESH_SECONDS: Final = 10  # how often the NameNode container looks at dfs.hosts.exclude
MAX_DEFAULT_REPLICATION: Final = 3
DFS_REPLICATION: Final = "dfs.replication"

_NETWORK = "the operator sets addresses and ports from the cluster's Services"
_DIRS = "the operator mounts the cluster's volumes and sets the directories to them"
_MEMBERSHIP = "the operator manages DataNode membership and decommissioning"
_ONE_NAMENODE = "a kemr cluster has one NameNode, on its master"


def exclude_config_map_name(cluster: str) -> str:
    """`<cluster>-hdfs-exclude`: the NameNode's dfs.hosts.exclude."""
    return f"{cluster}-hdfs-exclude"


def _namenode_share(pod: ContainerSize, sizing: Sizing) -> ContainerSize:
    """Half the master's CPU; its memory but the Spark master's share."""
    spark_memory = int(pod.memory_mib * sizing.master_spark_memory_fraction)
    return ContainerSize(cpu_millis=pod.cpu_millis // 2, memory_mib=pod.memory_mib - spark_memory)


def _datanode_share(pod: ContainerSize, sizing: Sizing) -> ContainerSize:
    memory = min(
        max(int(pod.memory_mib * sizing.datanode_memory_fraction), sizing.datanode_min_memory_mib),
        sizing.datanode_max_memory_mib,
        pod.memory_mib // 2,
    )
    cpu = min(max(int(pod.cpu_millis * sizing.datanode_cpu_fraction), 100), pod.cpu_millis // 2)
    return ContainerSize(cpu_millis=cpu, memory_mib=memory)


def _namenode_env(daemon: DaemonContext) -> Env:
    return (
        {"name": "HADOOP_HEAPSIZE_MAX", "value": f"{daemon.heap_mib}m"},
        {"name": "KEMR_HDFS_CLUSTER_ID", "value": f"kemr-{daemon.cluster.uid}"},
    )


def _datanode_env(daemon: DaemonContext) -> Env:
    return ({"name": "HADOOP_HEAPSIZE_MAX", "value": f"{daemon.heap_mib}m"},)


NAMENODE = Daemon(
    name="namenode",
    label="NameNode",
    what="the HDFS NameNode",
    entrypoint="namenode.sh",
    ports=(Port("nn-rpc", NAMENODE_RPC_PORT), Port("nn-http", NAMENODE_HTTP_PORT)),
    liveness_port=NAMENODE_RPC_PORT,
    env=_namenode_env,
    heap=jvm_heap,
    share=_namenode_share,
    min_memory_mib=MIN_DAEMON_MEMORY_MIB,
    readiness=(
        "  namenode      the NameNode's JMX says it is out of safe mode (what `hdfs dfsadmin -safemode get`"
        " reads,\n                without starting a JVM every few seconds)"
    ),
    # dfs.hosts.exclude, rewritten by the operator (scale-in)
    mounts=(Mount(EXCLUDE_VOLUME, EXCLUDE_DIR),),
)

DATANODE = Daemon(
    name="datanode",
    label="DataNode",
    what="the HDFS DataNode",
    entrypoint="datanode.sh",
    ports=(
        Port("dn-data", DATANODE_DATA_PORT),
        Port("dn-http", DATANODE_HTTP_PORT),
        Port("dn-ipc", DATANODE_IPC_PORT),
    ),
    liveness_port=DATANODE_DATA_PORT,
    env=_datanode_env,
    heap=jvm_heap,
    share=_datanode_share,
    min_memory_mib=MIN_DAEMON_MEMORY_MIB,
    readiness=(
        "  datanode      the DataNode's JMX shows a block pool service RUNNING (registered with the NameNode)"
    ),
)


def _endpoints(context: ClusterContext) -> Mapping[str, str]:
    return {
        "hdfs": f"hdfs://{context.master_host}:{NAMENODE_RPC_PORT}",
        "namenodeUI": f"http://{context.master_host}:{NAMENODE_HTTP_PORT}",
    }


def _properties(context: ClusterContext, role: str) -> Properties:
    host = context.master_host
    if role == ALL:  # every daemon and driver: where the NameNode is
        return {
            Classification.CORE_SITE: {"fs.defaultFS": f"hdfs://{host}:{NAMENODE_RPC_PORT}"},
            Classification.HDFS_SITE: {
                "dfs.namenode.rpc-address": f"{host}:{NAMENODE_RPC_PORT}",
                "dfs.namenode.http-address": f"{host}:{NAMENODE_HTTP_PORT}",
                # Pod IPs have no reverse DNS: the NameNode must take DataNodes by IP.
                "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            },
        }
    if role == MASTER:
        return {
            Classification.HDFS_SITE: {
                "dfs.namenode.name.dir": f"file://{NAMENODE_DIR}",
                "dfs.namenode.rpc-bind-host": "0.0.0.0",
                "dfs.namenode.servicerpc-bind-host": "0.0.0.0",
                "dfs.namenode.http-bind-host": "0.0.0.0",
                # DataNodes leaving a shrinking core group: the operator writes the file, the NameNode
                # re-reads it.
                "dfs.hosts.exclude": EXCLUDE_FILE,
            }
        }
    if role == CORE:
        return {
            Classification.HDFS_SITE: {
                "dfs.datanode.data.dir": f"file://{DATANODE_DIR}",
                "dfs.datanode.address": f"0.0.0.0:{DATANODE_DATA_PORT}",
                "dfs.datanode.http.address": f"0.0.0.0:{DATANODE_HTTP_PORT}",
                "dfs.datanode.ipc.address": f"0.0.0.0:{DATANODE_IPC_PORT}",
            }
        }
    return {}


def _driver_defaults(context: ClusterContext, configurations: Properties) -> Properties:
    """dfs.replication: the cluster's if set, else min(3, core nodes). The only configuration that follows
    group sizes: the drivers' files roll no pod."""
    value = configurations.get(Classification.HDFS_SITE, {}).get(DFS_REPLICATION)
    if value is not None:
        try:
            replication = int(value)
        except ValueError:
            raise SpecError(
                "spec.configurations", f"hdfs-site dfs.replication must be an integer, not {value!r}"
            ) from None
    else:
        replication = max(1, min(MAX_DEFAULT_REPLICATION, context.core_nodes))
    return {Classification.HDFS_SITE: {DFS_REPLICATION: str(replication)}}


def _config_maps(context: ClusterContext) -> Mapping[str, Mapping[str, str]]:
    """The NameNode's dfs.hosts.exclude: DataNodes of shrinking core groups being decommissioned. Its content
    changes while the cluster runs; it is part of no config hash (the NameNode re-reads it in place)."""
    exclude = "".join(f"{ip}\n" for ip in context.decommissioning)
    return {exclude_config_map_name(context.name): {EXCLUDE_KEY: exclude}}


def _crd_rules(spec: EMRClusterSpec) -> Iterator[Issue]:
    if not spec.core_groups:
        yield "spec.coreGroups", "HDFS needs at least one core group (its DataNodes): add one or remove HDFS"


def _configuration_places(spec: EMRClusterSpec) -> Iterator[tuple[str, Mapping[str, str]]]:
    """Every hdfs-site of the spec (cluster-wide, then per group), with the field of its properties."""
    places = [("spec.configurations", spec.configurations)]
    places += [(f"spec.coreGroups[{g.name}].configurations", g.configurations) for g in spec.core_groups]
    places += [(f"spec.taskGroups[{g.name}].configurations", g.configurations) for g in spec.task_groups]
    for field, configurations in places:
        for configuration in configurations:
            if configuration.classification is Classification.HDFS_SITE:
                yield f"{field}[hdfs-site].properties", configuration.properties
                break


def _validate(spec: EMRClusterSpec) -> Iterator[Issue]:
    """dfs.replication can't exceed the DataNodes there are: HDFS would never finish writing a block."""
    datanodes = sum(core.replicas for core in spec.core_groups)
    for field, properties in _configuration_places(spec):
        if DFS_REPLICATION not in properties:
            continue
        path = f"{field}[{json.dumps(DFS_REPLICATION)}]"
        value = properties[DFS_REPLICATION].strip()
        if not value.isdigit() or int(value) < 1:
            yield path, f"must be a positive integer, not {value!r}"
        elif int(value) > datanodes:
            yield (
                path,
                f"{value} replicas can't be placed on {datanodes} core node(s): lower dfs.replication to at"
                f" most {datanodes} or add core nodes",
            )


def _image(images: ApplicationImages) -> str | None:
    return images.hdfs


HDFS = ApplicationModule(
    application=Application.HDFS,
    image=_image,
    daemons={MASTER: (NAMENODE,), CORE: (DATANODE,)},
    volumes={MASTER: (ConfigMapVolume(EXCLUDE_VOLUME, exclude_config_map_name),)},
    config_maps=_config_maps,
    files=(
        # Rendered on every cluster: Spark's Hadoop client and the `hdfs` command read them.
        ConfigFile(
            "hdfs-site.xml", "hadoop/hdfs-site.xml", "hadoop-xml", Classification.HDFS_SITE, always=True
        ),
        ConfigFile(
            "log4j.properties",
            "hadoop/log4j.properties",
            "template",
            template="hadoop-log4j.properties.j2",
            always=True,
        ),
    ),
    scripts=(
        Script(
            "namenode.sh",
            "namenode.sh.j2",
            {
                "name_dir": NAMENODE_DIR,
                "marker": NAMENODE_FORMATTED_MARKER,
                "exclude_file": EXCLUDE_FILE,
                "refresh_seconds": EXCLUDE_REFRESH_SECONDS,
            },
        ),
        Script("datanode.sh", "datanode.sh.j2", {"data_dir": DATANODE_DIR}),
    ),
    probe_checks="hdfs-probe.py.j2",
    probe_context={"namenode_http_port": NAMENODE_HTTP_PORT, "datanode_http_port": DATANODE_HTTP_PORT},
    owned={
        Classification.HDFS_SITE: (
            OwnedKey("dfs.namenode.rpc-address", _NETWORK),
            OwnedKey("dfs.namenode.servicerpc-address", _NETWORK),
            OwnedKey("dfs.namenode.http-address", _NETWORK),
            OwnedKey("dfs.namenode.https-address", _NETWORK),
            OwnedKey("dfs.namenode.rpc-bind-host", _NETWORK),
            OwnedKey("dfs.namenode.http-bind-host", _NETWORK),
            OwnedKey("dfs.datanode.address", _NETWORK),
            OwnedKey("dfs.datanode.http.address", _NETWORK),
            OwnedKey("dfs.datanode.https.address", _NETWORK),
            OwnedKey("dfs.datanode.ipc.address", _NETWORK),
            OwnedKey("dfs.namenode.name.dir", _DIRS),
            OwnedKey("dfs.namenode.edits.dir", _DIRS),
            OwnedKey("dfs.namenode.checkpoint.dir", _DIRS),
            OwnedKey("dfs.datanode.data.dir", _DIRS),
            OwnedKey("dfs.hosts", _MEMBERSHIP),
            OwnedKey("dfs.hosts.exclude", _MEMBERSHIP),
            OwnedKey("dfs.nameservices", _ONE_NAMENODE),
            OwnedKey("dfs.ha.", _ONE_NAMENODE, prefix=True),
        )
    },
    forced={
        Classification.HDFS_SITE: frozenset(
            {
                "dfs.namenode.name.dir",
                "dfs.datanode.data.dir",
                "dfs.namenode.rpc-address",
                "dfs.namenode.rpc-bind-host",
                "dfs.namenode.servicerpc-bind-host",
                "dfs.namenode.http-address",
                "dfs.namenode.http-bind-host",
                "dfs.datanode.address",
                "dfs.datanode.http.address",
                "dfs.datanode.ipc.address",
                "dfs.namenode.datanode.registration.ip-hostname-check",
            }
        )
    },
    properties=_properties,
    driver_defaults=_driver_defaults,
    env=lambda context: ({"name": "KEMR_HDFS_URL", "value": _endpoints(context)["hdfs"]},),
    endpoints=_endpoints,
    status_endpoints=("hdfs",),
    crd_rules=_crd_rules,
    validate=_validate,
    decommissions_core=True,
)
