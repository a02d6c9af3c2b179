"""Resolve a DataCatalog: its spec and the operator's configuration in, every fact its builders need out.
Pure.

resolved = resolve_catalog(name, namespace, uid, spec, config)   # raises ResolveError
children = build_catalog_children(resolved)                      # kemr.builders.catalog
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kemr.api import CapacityType
from kemr.api import constants as c
from kemr.api.catalog import DataCatalogSpec
from kemr.api.quantity import cpu_millis, memory_mib
from kemr.applications.hive import METASTORE_PORT, catalog_endpoint, metastore_service
from kemr.config import OperatorConfig
from kemr.resolve import layout
from kemr.resolve.cluster import (
    S3A_ABSTRACT_FILESYSTEM,
    S3A_FILESYSTEM,
    placement_of,
    release_of,
    s3_settings,
)
from kemr.resolve.errors import ResolveError
from kemr.resolve.model import ContainerSize, Placement, S3Settings, Storage

# The in-cluster database: its user and database, and the Secret the operator makes for its password.
DATABASE_USER = "hive"
DATABASE_NAME = "metastore"
PASSWORD_KEY = "password"
USERNAME_KEY = "username"
JDBC_DRIVER_POSTGRES = "org.postgresql.Driver"
# What the metastore's JVM leaves for its threads, metaspace and the JDBC pool beside the heap.
METASTORE_NON_HEAP_MIB = 256
METASTORE_MIN_HEAP_MIB = 256


@dataclass(frozen=True)
class ResolvedDatabase:
    """Where the metastore keeps the catalog."""

    in_cluster: bool  # a PostgreSQL the operator runs (StatefulSet `statefulset_name`)
    jdbc_url: str
    credentials_secret: str  # Secret with the user's name and password
    username_key: str
    password_key: str
    statefulset_name: str | None  # None for an external database
    service_name: str | None
    storage: Storage
    size: ContainerSize


@dataclass(frozen=True)
class ResolvedCatalog:
    """A DataCatalog with every derived fact the builders need."""

    name: str
    namespace: str
    uid: str
    labels: Mapping[str, str]  # on every child
    selector_labels: Mapping[str, str]  # the metastore pods'
    owner_reference: Mapping[str, Any]
    image: str
    image_pull_policy: str
    image_pull_secrets: tuple[str, ...]
    endpoint: str  # thrift://<catalog>-metastore.<ns>.svc:9083
    metastore_name: str  # Deployment, Service and ConfigMap
    metastore_replicas: int
    metastore_size: ContainerSize
    metastore_heap_mib: int
    metastore_site: Mapping[str, str]  # metastore-site.xml (no credentials: they come from the Secret)
    core_site: Mapping[str, str]  # core-site.xml: S3A for table locations
    s3: S3Settings
    database: ResolvedDatabase
    placement: Placement  # on-demand capacity: the catalog is a long-lived service
    service_account_name: (
        str | None
    )  # the metastore's, for S3 through workload identity (spec.s3.credentials)
    pod_overrides: Mapping[str, Any] | None


def resolve_catalog(
    name: str, namespace: str, uid: str, spec: DataCatalogSpec, config: OperatorConfig
) -> ResolvedCatalog:
    """Everything the DataCatalog's children are built from. Raises ResolveError naming the field (an unknown
    release, a metastore too small for its JVM)."""
    release = release_of(spec.release, config)
    labels = {
        c.LABEL_NAME: "kemr",
        c.LABEL_INSTANCE: name,
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
        c.LABEL_CATALOG: name,
    }
    metastore = spec.metastore
    size = ContainerSize(cpu_millis(metastore.resources.cpu), memory_mib(metastore.resources.memory))
    heap = size.memory_mib - METASTORE_NON_HEAP_MIB
    if heap < METASTORE_MIN_HEAP_MIB:
        need = METASTORE_MIN_HEAP_MIB + METASTORE_NON_HEAP_MIB
        raise ResolveError(
            "spec.metastore.resources.memory",
            f"{metastore.resources.memory} leaves the metastore's JVM less than {METASTORE_MIN_HEAP_MIB}Mi of"
            f" heap: set at least {need}Mi",
        )
    database = _database(name, namespace, spec)
    s3 = s3_settings(spec.s3, release)
    site = {
        "metastore.thrift.port": str(METASTORE_PORT),
        "javax.jdo.option.ConnectionURL": database.jdbc_url,
        "javax.jdo.option.ConnectionDriverName": JDBC_DRIVER_POSTGRES,
        # From the Secret, through the container's environment: Hadoop's Configuration expands ${env.NAME},
        # so no credential is ever in the ConfigMap.
        "javax.jdo.option.ConnectionUserName": "${env.METASTORE_DB_USER}",
        "javax.jdo.option.ConnectionPassword": "${env.METASTORE_DB_PASSWORD}",
        # The schema is the schema tool's (kemr-metastore-schema, before the server starts), not DataNucleus'.
        "datanucleus.schema.autoCreateAll": "false",
        "metastore.schema.verification": "true",
    }
    if spec.warehouse_dir:
        site["metastore.warehouse.dir"] = _s3a(spec.warehouse_dir)
    owner = {
        "apiVersion": c.API_VERSION,
        "kind": c.CATALOG_KIND,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return ResolvedCatalog(
        name=name,
        namespace=namespace,
        uid=uid,
        labels=labels,
        selector_labels={c.LABEL_CATALOG: name, c.LABEL_ROLE: "metastore"},
        owner_reference=owner,
        image=release.image_or_default(spec.release),
        image_pull_policy=config.image_pull_policy,
        image_pull_secrets=config.image_pull_secrets,
        endpoint=catalog_endpoint(name, namespace),
        metastore_name=metastore_service(name),
        metastore_replicas=metastore.replicas,
        metastore_size=size,
        metastore_heap_mib=heap,
        metastore_site=site,
        core_site={**hadoop_s3_filesystems(), **s3.core_site},
        s3=s3,
        database=database,
        placement=placement_of(CapacityType.ON_DEMAND, config),
        service_account_name=(
            spec.s3.credentials.service_account_name if spec.s3 and spec.s3.credentials else None
        ),
        pod_overrides=spec.pod_overrides,
    )


def _database(name: str, namespace: str, spec: DataCatalogSpec) -> ResolvedDatabase:
    db = spec.database
    storage = Storage(size=db.storage.size, storage_class_name=db.storage.storage_class_name)
    size = ContainerSize(cpu_millis(db.resources.cpu), memory_mib(db.resources.memory))
    if db.jdbc_url is not None and db.credentials_secret_ref is not None:
        ref = db.credentials_secret_ref
        return ResolvedDatabase(
            in_cluster=False,
            jdbc_url=db.jdbc_url,
            credentials_secret=ref.name,
            username_key=ref.username_key,
            password_key=ref.password_key,
            statefulset_name=None,
            service_name=None,
            storage=storage,
            size=size,
        )
    service = f"{name}-db"
    return ResolvedDatabase(
        in_cluster=True,
        jdbc_url=f"jdbc:postgresql://{service}.{namespace}.svc:{layout.POSTGRES_PORT}/{DATABASE_NAME}",
        credentials_secret=f"{name}-db-credentials",
        username_key=USERNAME_KEY,
        password_key=PASSWORD_KEY,
        statefulset_name=service,
        service_name=service,
        storage=storage,
        size=size,
    )


def hadoop_s3_filesystems() -> dict[str, str]:
    """core-site properties reading s3:// and s3a:// through S3A, as EMR reads s3:// (EMRFS)."""
    return {
        "fs.s3.impl": S3A_FILESYSTEM,
        "fs.AbstractFileSystem.s3.impl": S3A_ABSTRACT_FILESYSTEM,
    }


def _s3a(uri: str) -> str:
    return "s3a://" + uri.removeprefix("s3a://").removeprefix("s3://")
