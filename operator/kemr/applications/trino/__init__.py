"""Trino: a coordinator on the master, a worker in every core and task pod, on port 8889 (EMR's), with the
catalogs hive (the cluster's Hive metastore, its own or its DataCatalog's, and the cluster's S3), tpch and
memory. Trino runs on a newer Java than Spark, so from its own image (the release's `trinoImage`).

Memory: the coordinator takes `sizing.trinoCoordinatorMemoryFraction` of what the master's NameNode and
metastore leave, a worker `sizing.trinoWorkerMemoryFraction` of what a core pod's DataNode leaves (all of a
task pod); the Spark master or worker gets the rest, and each Trino JVM's heap is `jvmHeapFraction` of its
container. Trino's query memory limits follow from its heap (Trino's defaults: query.max-memory-per-node
is 30% of it).

A worker removed by scaling (or a spot loss, or a drain) shuts down gracefully in its preStop hook: Trino's
SHUTTING_DOWN state, in which it takes no new tasks and ends once its running ones are done (the image's
kemr-trino-drain). A worker that vanishes at once fails the queries that had tasks on it (after Trino's
remote-task timeout, about a minute); new queries run on the remaining workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Final

from kemr.api import Application, ApplicationImages, Classification, EMRClusterSpec
from kemr.applications.base import (
    ALL,
    CONF_DIR,
    CORE,
    MASTER,
    TASK,
    ApplicationModule,
    ClusterContext,
    ConfigFile,
    ContainerSize,
    Daemon,
    DaemonContext,
    Env,
    Issue,
    OwnedKey,
    Port,
    Properties,
    Script,
    jvm_heap,
)
from kemr.applications.hive import metastore_uris
from kemr.config import Release, Sizing

TRINO_PORT: Final = 8889  # EMR's Trino port (Trino's own default, 8080, is the Spark master's web UI)
TRINO_MIN_MEMORY_MIB: Final = 1024  # below this a Trino JVM can't run a query
TRINO_CONF: Final = "trino"  # Trino's files under the configuration mount (CONF_DIR): TRINO_CONF_DIR
# Trino waits this long before and after its running tasks when it shuts down (shutdown.grace-period); the
# drain waits at most DRAIN_SECONDS, within the worker pods' termination grace period.
SHUTDOWN_GRACE: Final = "10s"
DRAIN_SECONDS: Final = 120

_NETWORK = "the operator sets addresses and ports from the cluster's Services"
_ROLE = "the operator runs the coordinator on the master and the workers in core and task pods"
_NODE = "node.properties is the image's (node.id from the pod's name and uid, node.environment the cluster's)"
_SHUTDOWN = "the operator fits graceful shutdown into the worker pods' termination grace period"
_METASTORE = "the hive catalog is the cluster's Hive metastore: its own or spec.catalog's"
_S3 = "the hive catalog reads S3 with the cluster's spec.s3 (endpoint, region, path-style access)"
_S3_CREDENTIALS = (
    "set spec.s3.credentials (a Secret or a ServiceAccount) instead: credentials never go in configurations"
)
_HDFS = "with HDFS, the hive catalog reads the cluster's core-site.xml and hdfs-site.xml"
_CONNECTOR = "the operator names each catalog's connector (hive, tpch, memory)"


def server_url(context: ClusterContext) -> str:
    """The coordinator's URL, http://<cluster>-master.<namespace>.svc:8889: clients' --server, the workers'
    discovery.uri, status.endpoints.trino."""
    return f"http://{context.master_host}:{TRINO_PORT}"


def _share(fraction: float, rest: ContainerSize) -> ContainerSize:
    return ContainerSize(
        cpu_millis=max(1, int(rest.cpu_millis * fraction)), memory_mib=int(rest.memory_mib * fraction)
    )


def _coordinator_share(rest: ContainerSize, sizing: Sizing) -> ContainerSize:
    return _share(sizing.trino_coordinator_memory_fraction, rest)


def _worker_share(rest: ContainerSize, sizing: Sizing) -> ContainerSize:
    return _share(sizing.trino_worker_memory_fraction, rest)


def _env(daemon: DaemonContext) -> Env:
    """The heap, and the pod's uid: node.id is `<pod>-<uid prefix>` (the image's kemr-trino-server), so a core
    pod re-created under its old name registers as a new node instead of the lost one at a new address."""
    return (
        {"name": "TRINO_HEAP_MB", "value": str(daemon.heap_mib)},
        {"name": "KEMR_POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
    )


def _daemon(
    role: str, share: Callable[[ContainerSize, Sizing], ContainerSize], pre_stop: str | None = None
) -> Daemon:
    """`trino-<role>`: one entrypoint for both (config.properties says which), sized from what the earlier
    applications' daemons left."""
    return Daemon(
        name=f"trino-{role}",
        label=f"Trino {role}",
        what=f"the Trino {role}",
        entrypoint="trino-server.sh",
        ports=(Port("trino", TRINO_PORT),),
        liveness_port=TRINO_PORT,
        env=_env,
        heap=jvm_heap,
        share=share,
        share_of_rest=True,
        min_memory_mib=TRINO_MIN_MEMORY_MIB,
        readiness=f"  trino-{role}  Trino's /v1/info says it has started (starting: false)",
        pre_stop=pre_stop,
    )


COORDINATOR = _daemon("coordinator", _coordinator_share)
WORKER = _daemon("worker", _worker_share, pre_stop="trino-worker-stop.sh")


def _hive_catalog(context: ClusterContext) -> dict[str, str]:
    """The hive catalog: the cluster's metastore; with spec.s3, S3 through Trino's native S3 file system
    (which reads s3://, s3a:// and s3n:// locations alike); with HDFS, Hadoop's client.

    Credentials are the AWS SDK's default chain, as the pods' other AWS tools have them: the Secret's
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (kemr.resolve.cluster.s3_settings), or
    the ServiceAccount's web identity. The region: spec.s3.region; us-east-1 for an endpoint of your own
    (MinIO and the like ignore it); else the SDK's (AWS_REGION, the instance's)."""
    props = {"connector.name": "hive", "hive.metastore.uri": metastore_uris(context)}
    s3 = context.spec.s3
    if s3 is not None:
        props["fs.native-s3.enabled"] = "true"
        props["s3.path-style-access"] = "true" if s3.path_style_access else "false"
        if s3.endpoint:
            props["s3.endpoint"] = s3.endpoint
        if s3.region or s3.endpoint:
            props["s3.region"] = s3.region or "us-east-1"
    if context.enabled(Application.HDFS):
        props["fs.hadoop.enabled"] = "true"
        props["hive.config.resources"] = f"{CONF_DIR}/hadoop/core-site.xml,{CONF_DIR}/hadoop/hdfs-site.xml"
    return props


def _properties(context: ClusterContext, role: str) -> Properties:
    if role == ALL:
        return {
            Classification.TRINO_CONFIG: {
                "http-server.http.port": str(TRINO_PORT),
                "discovery.uri": server_url(context),
                "shutdown.grace-period": SHUTDOWN_GRACE,
            },
            Classification.TRINO_CONNECTOR_HIVE: _hive_catalog(context),
            Classification.TRINO_CONNECTOR_TPCH: {"connector.name": "tpch"},
            Classification.TRINO_CONNECTOR_MEMORY: {"connector.name": "memory"},
        }
    if role == MASTER:
        return {
            Classification.TRINO_CONFIG: {
                "coordinator": "true",
                "node-scheduler.include-coordinator": "false",
            }
        }
    if role in (CORE, TASK):
        return {Classification.TRINO_CONFIG: {"coordinator": "false"}}
    return {}


def _endpoints(context: ClusterContext) -> Mapping[str, str]:
    return {"trino": server_url(context)}


def _crd_rules(spec: EMRClusterSpec) -> Iterator[Issue]:
    if Application.HIVE not in spec.applications:
        yield (
            "spec.applications",
            "Trino's hive catalog is the cluster's Hive metastore: add Hive, or remove Trino",
        )


def _validate(spec: EMRClusterSpec) -> Iterator[Issue]:
    if not spec.core_groups:
        yield (
            "spec.coreGroups",
            "Trino's workers run in core and task pods and the coordinator schedules no work on itself: add a"
            " core group (task groups may scale to zero)",
        )


def _image(images: ApplicationImages) -> str | None:
    return images.trino


def _release_image(release: Release, label: str) -> str:
    return release.trino_image_or_default(label)


def _catalog_file(name: str, classification: Classification) -> ConfigFile:
    return ConfigFile(
        f"trino-catalog-{name}.properties",
        f"{TRINO_CONF}/catalog/{name}.properties",
        "properties",
        classification,
        header=f"catalog/{name}.properties (Trino)",
    )


TRINO = ApplicationModule(
    application=Application.TRINO,
    image=_image,
    release_image=_release_image,
    daemons={MASTER: (COORDINATOR,), CORE: (WORKER,), TASK: (WORKER,)},
    files=(
        ConfigFile(
            "trino-config.properties",
            f"{TRINO_CONF}/config.properties",
            "properties",
            Classification.TRINO_CONFIG,
            header="config.properties (Trino)",
        ),
        ConfigFile(
            "trino-log.properties",
            f"{TRINO_CONF}/log.properties",
            "properties",
            Classification.TRINO_LOG,
            header="log.properties (Trino)",
        ),
        ConfigFile(
            "trino-access-control.properties",
            f"{TRINO_CONF}/access-control.properties",
            "template",
            template="trino-access-control.properties.j2",
        ),
        _catalog_file("hive", Classification.TRINO_CONNECTOR_HIVE),
        _catalog_file("tpch", Classification.TRINO_CONNECTOR_TPCH),
        _catalog_file("memory", Classification.TRINO_CONNECTOR_MEMORY),
    ),
    scripts=(
        Script(
            "trino-server.sh",
            "trino-server.sh.j2",
            {"conf_dir": f"{CONF_DIR}/{TRINO_CONF}", "port": TRINO_PORT},
        ),
        Script(
            "trino-worker-stop.sh",
            "trino-worker-stop.sh.j2",
            {"port": TRINO_PORT, "wait_seconds": DRAIN_SECONDS},
        ),
    ),
    probe_checks="trino-probe.py.j2",
    probe_context={"trino_port": TRINO_PORT},
    owned={
        Classification.TRINO_CONFIG: (
            OwnedKey("coordinator", _ROLE),
            OwnedKey("node-scheduler.include-coordinator", _ROLE),
            OwnedKey("http-server.http.port", _NETWORK),
            OwnedKey("discovery.uri", _NETWORK),
            OwnedKey("shutdown.grace-period", _SHUTDOWN),
            OwnedKey("node.", _NODE, prefix=True),
        ),
        Classification.TRINO_CONNECTOR_HIVE: (
            OwnedKey("connector.name", _CONNECTOR),
            OwnedKey("hive.metastore", _METASTORE),
            OwnedKey("hive.metastore.uri", _METASTORE),
            OwnedKey("hive.config.resources", _HDFS),
            OwnedKey("fs.native-s3.enabled", _S3),
            OwnedKey("fs.hadoop.enabled", _HDFS),
            OwnedKey("s3.endpoint", _S3),
            OwnedKey("s3.region", _S3),
            OwnedKey("s3.path-style-access", _S3),
            OwnedKey("s3.aws-", _S3_CREDENTIALS, prefix=True),
        ),
        Classification.TRINO_CONNECTOR_TPCH: (OwnedKey("connector.name", _CONNECTOR),),
        Classification.TRINO_CONNECTOR_MEMORY: (OwnedKey("connector.name", _CONNECTOR),),
    },
    forced={
        Classification.TRINO_CONFIG: frozenset(
            {"coordinator", "node-scheduler.include-coordinator", "http-server.http.port", "discovery.uri"}
        ),
    },
    properties=_properties,
    env=lambda context: ({"name": "KEMR_TRINO_SERVER", "value": server_url(context)},),
    endpoints=_endpoints,
    status_endpoints=("trino",),
    crd_rules=_crd_rules,
    validate=_validate,
)
