"""Hive: Spark SQL with Hive support against a Hive metastore — the cluster's own on its master (EMR's
default: an embedded Derby database on the master's volume, gone with the cluster), or a DataCatalog's
(`spec.catalog`: tables that outlive clusters, the Glue Data Catalog's role; kemr.resolve.catalog).

Every Spark process of the cluster, drivers of `spark`, `sparkSql` and `hive` steps included, runs with
spark.sql.catalogImplementation=hive and spark.hadoop.hive.metastore.uris; HiveQL runs on Spark SQL
(kemr.steptypes.hive). The metastore's own software is the data-plane image's (docs/image-contract.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from kemr.api import Application, ApplicationImages, Classification
from kemr.applications.base import (
    ALL,
    DATA_DIR,
    MASTER,
    MIN_DAEMON_MEMORY_MIB,
    ApplicationModule,
    ClusterContext,
    ConfigFile,
    ContainerSize,
    Daemon,
    DaemonContext,
    Env,
    OwnedKey,
    Port,
    Properties,
    Script,
    jvm_heap,
)
from kemr.config import Sizing

METASTORE_PORT: Final = 9083  # Hive's default thrift port
METASTORE_DB_DIR: Final = f"{DATA_DIR}/hive/metastore_db"  # the cluster's own metastore's Derby database
CATALOG_IMPLEMENTATION: Final = "spark.sql.catalogImplementation"
METASTORE_URIS: Final = "hive.metastore.uris"

_URIS = "the operator points it at the cluster's metastore or its DataCatalog (spec.catalog)"
_DATABASE = (
    "a metastore's database is a DataCatalog's: set spec.catalog (spec.database.jdbcUrl there for yours)"
)
_WITH_HIVE = "the operator sets it from spec.applications: add Hive to them for Hive support"


def metastore_service(catalog: str) -> str:
    """`<catalog>-metastore`: the Service (and Deployment) of DataCatalog `catalog`'s metastore."""
    return f"{catalog}-metastore"


def catalog_endpoint(catalog: str, namespace: str) -> str:
    """The thrift URI of DataCatalog `catalog`'s metastore (hive.metastore.uris), known from the names alone:
    a cluster is configured before its catalog exists (it waits for it to be ready)."""
    return f"thrift://{metastore_service(catalog)}.{namespace}.svc:{METASTORE_PORT}"


def _catalog(context: ClusterContext) -> str | None:
    return context.spec.catalog.name if context.spec.catalog else None


def metastore_uris(context: ClusterContext) -> str:
    """The cluster's metastore: its DataCatalog's, else its own on the master."""
    catalog = _catalog(context)
    if catalog:
        return catalog_endpoint(catalog, context.namespace)
    return f"thrift://{context.master_host}:{METASTORE_PORT}"


def _metastore_share(pod: ContainerSize, sizing: Sizing) -> ContainerSize:
    """A quarter of the master's CPU and memory (it keeps the catalog in memory only while it serves it)."""
    del sizing
    return ContainerSize(cpu_millis=max(1, pod.cpu_millis // 4), memory_mib=pod.memory_mib // 4)


def _metastore_env(daemon: DaemonContext) -> Env:
    return ({"name": "METASTORE_HEAPSIZE_MB", "value": str(daemon.heap_mib)},)


METASTORE = Daemon(
    name="hive-metastore",
    label="Hive metastore",
    what="the Hive metastore",
    entrypoint="hive-metastore.sh",
    init="hive-schema.sh",
    ports=(Port("metastore", METASTORE_PORT),),
    liveness_port=METASTORE_PORT,
    env=_metastore_env,
    heap=jvm_heap,
    share=_metastore_share,
    min_memory_mib=MIN_DAEMON_MEMORY_MIB,
    readiness="  hive-metastore  the metastore accepts connections on its thrift port",
    when=lambda context: _catalog(context) is None,  # with a DataCatalog, the catalog's serves the cluster
)


def _properties(context: ClusterContext, role: str) -> Properties:
    if role != ALL:
        return {}
    uris = metastore_uris(context)
    return {
        Classification.SPARK_DEFAULTS: {
            CATALOG_IMPLEMENTATION: "hive",
            f"spark.hadoop.{METASTORE_URIS}": uris,
        },
        Classification.HIVE_SITE: {METASTORE_URIS: uris},
    }


def _endpoints(context: ClusterContext) -> Mapping[str, str]:
    return {"metastore": metastore_uris(context)}


def _image(images: ApplicationImages) -> str | None:
    del images  # the metastore runs in the Spark image (the release's, or spec.images.Spark's)
    return None


HIVE = ApplicationModule(
    application=Application.HIVE,
    image=_image,
    daemons={MASTER: (METASTORE,)},
    files=(
        # Spark's conf dir: Spark SQL's Hive client reads hive-site.xml from its classpath.
        ConfigFile("hive-site.xml", "spark/hive-site.xml", "hadoop-xml", Classification.HIVE_SITE),
    ),
    scripts=(
        Script(
            "hive-metastore-conf.sh",
            "hive-metastore-conf.sh.j2",
            {"db_dir": METASTORE_DB_DIR, "port": METASTORE_PORT},
        ),
        Script("hive-schema.sh", "hive-schema.sh.j2"),
        Script("hive-metastore.sh", "hive-metastore.sh.j2", {"port": METASTORE_PORT}),
    ),
    probe_checks="hive-probe.py.j2",
    probe_context={"metastore_port": METASTORE_PORT},
    owned={
        Classification.HIVE_SITE: (
            OwnedKey(METASTORE_URIS, _URIS),
            OwnedKey("javax.jdo.option.", _DATABASE, prefix=True),
        ),
        Classification.SPARK_DEFAULTS: (OwnedKey(CATALOG_IMPLEMENTATION, _WITH_HIVE),),
    },
    forced={
        Classification.HIVE_SITE: frozenset({METASTORE_URIS}),
        Classification.SPARK_DEFAULTS: frozenset({CATALOG_IMPLEMENTATION, f"spark.hadoop.{METASTORE_URIS}"}),
    },
    properties=_properties,
    endpoints=_endpoints,
    status_endpoints=("metastore",),
)
