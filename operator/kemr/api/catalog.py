"""DataCatalog: a Hive metastore and its database that outlive clusters, as EMR's external metastore (the
Glue Data Catalog, or a Hive metastore on RDS). EMRClusters running Hive reference it by name
(`spec.catalog`), so tomorrow's cluster sees the tables today's created."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from kemr.api.base import KemrModel, Quantity, cel, cel_rules, immutable, validations
from kemr.api.cluster import S3_URI_PATTERN, S3Spec
from kemr.api.common import MAX_URI_LENGTH, Conditions, PodOverrides, Storage
from kemr.api.constants import DEFAULT_RELEASE

# The JDBC drivers the data-plane image carries for a catalog's database (docs/image-contract.md).
JDBC_URL_PATTERN = r"^jdbc:postgresql://\S+$"
# Credentials belong in the Secret: a URL carrying them would be shown in status, messages and logs.
_NO_CREDENTIALS_IN_URL = cel(
    "!self.lowerAscii().matches('[?&](password|sslpassword|user)=')",
    "spec.database.jdbcUrl must not carry credentials (user=, password=): put them in the Secret named by"
    " credentialsSecretRef",
)
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class DatabaseResources(KemrModel):
    """CPU and memory of the in-cluster PostgreSQL pod (requests; memory is also the limit)."""

    cpu: Quantity = "250m"
    """CPU, as a Kubernetes quantity: `250m`, `1`."""
    memory: Quantity = "512Mi"
    """Memory, as a Kubernetes quantity: `512Mi`, `2Gi`."""


class MetastoreResources(KemrModel):
    """CPU and memory of a metastore pod (requests; memory is also the limit)."""

    cpu: Quantity = "500m"
    """CPU, as a Kubernetes quantity: `500m`, `1`."""
    memory: Quantity = "1Gi"
    """Memory, as a Kubernetes quantity: `1Gi`, `4Gi`; the JVM's heap is this less 256Mi."""


class DatabaseCredentials(KemrModel):
    """A Secret in the catalog's namespace holding the database user's name and password."""

    name: str = Field(max_length=253, pattern=SECRET_NAME_PATTERN)
    """Name of the Secret."""
    username_key: str = Field(default="username", max_length=253)
    """Key of the user name in the Secret."""
    password_key: str = Field(default="password", max_length=253)
    """Key of the password in the Secret."""


class CatalogDatabase(KemrModel):
    """Where the metastore keeps the catalog: by default a PostgreSQL the operator runs on a volume; with
    `jdbcUrl`, a database of your own (the RDS role), whose schema the metastore creates on first start."""

    model_config = cel_rules(
        cel(
            "has(self.jdbcUrl) == has(self.credentialsSecretRef)",
            "an external database needs both jdbcUrl and credentialsSecretRef; leave both unset for an"
            " in-cluster PostgreSQL",
            field_path=".credentialsSecretRef",
        ),
        cel(
            "has(self.jdbcUrl) == has(oldSelf.jdbcUrl)",
            "a DataCatalog can't move between its in-cluster database and spec.database.jdbcUrl: its tables"
            " are in the one it started with; create a new DataCatalog (and migrate the database)",
            field_path=".jdbcUrl",
            reason="FieldValueForbidden",
        ),
    )

    jdbc_url: str | None = Field(
        default=None,
        max_length=MAX_URI_LENGTH,
        pattern=JDBC_URL_PATTERN,
        json_schema_extra=validations(
            _NO_CREDENTIALS_IN_URL,
            cel(
                "self == oldSelf",
                "spec.database.jdbcUrl is immutable: the catalog's tables are in that database; create a new"
                " DataCatalog (and migrate the database) to use another",
                reason="FieldValueForbidden",
            ),
        ),
    )
    """JDBC URL of an external PostgreSQL database, e.g. `jdbc:postgresql://metastore.abc.rds.amazonaws.com:5432/
    hive` (Hive's javax.jdo.option.ConnectionURL). Unset: an in-cluster PostgreSQL 15."""
    credentials_secret_ref: DatabaseCredentials | None = None
    """The external database's user and password (javax.jdo.option.ConnectionUserName/Password)."""
    storage: Storage = Field(
        default_factory=lambda: Storage(size="1Gi"),
        json_schema_extra=validations(
            immutable(
                "spec.database.storage", "a StatefulSet's volumes can't change; create a new DataCatalog"
            )
        ),
    )
    """The in-cluster PostgreSQL's volume. Kept when the DataCatalog is deleted (delete the
    PersistentVolumeClaim `data-<catalog>-db-0` to drop the tables' definitions)."""
    resources: DatabaseResources = Field(default_factory=lambda: DatabaseResources())
    """CPU and memory of the in-cluster PostgreSQL pod."""


class MetastoreSpec(KemrModel):
    """The Hive metastore server (HMS 3.1, thrift on port 9083)."""

    replicas: int = Field(default=1, ge=1, le=5)
    """Metastore pods behind the catalog's Service; they share the database."""
    resources: MetastoreResources = Field(default_factory=lambda: MetastoreResources())
    """CPU and memory of each metastore pod; its JVM heap is sized from the memory."""


class DataCatalogSpec(KemrModel):
    """A Hive metastore backed by a PostgreSQL database, shared by the EMRClusters that name it in
    `spec.catalog`."""

    release: str = Field(
        default=DEFAULT_RELEASE,
        max_length=32,
        pattern=r"^kemr-\d+\.\d+$",
        json_schema_extra=validations(
            immutable("spec.release", "create a new DataCatalog on the new release")
        ),
    )
    """Release label pinning the metastore's version (Hive 3.1.3) and image, as an EMRCluster's. Immutable."""
    database: CatalogDatabase = Field(default_factory=CatalogDatabase)
    """The database the metastore keeps the catalog in."""
    metastore: MetastoreSpec = Field(default_factory=MetastoreSpec)
    """The metastore server."""
    warehouse_dir: str | None = Field(default=None, max_length=MAX_URI_LENGTH, pattern=S3_URI_PATTERN)
    """Where the `default` database keeps its managed tables (CREATE TABLE ... AS SELECT, saveAsTable without
    a path): an s3:// or s3a:// prefix (the metastore's metastore.warehouse.dir, the default database's
    location). Unset, the default database's location is the metastore pod's own filesystem, where nothing
    can be written: managed tables then fail, and external tables (LOCATION 's3://...') and databases created
    with a LOCATION work. A `CREATE DATABASE` without LOCATION is placed by each cluster's
    spark.sql.warehouse.dir (docs/hive.md)."""
    s3: S3Spec | None = None
    """S3 access of the metastore itself: it checks and creates table locations (CREATE TABLE ...
    LOCATION 's3://...'). As an EMRCluster's spec.s3."""
    pod_overrides: PodOverrides = None
    """Merged into the metastore's and database's pod templates (labels, nodeSelector, tolerations...)."""


class CatalogState(StrEnum):
    """Lifecycle of a DataCatalog."""

    CREATING = "CREATING"
    """The database or the metastore is not ready yet (the first start initialises the schema)."""
    ACTIVE = "ACTIVE"
    """The metastore answers on its endpoint."""
    DEGRADED = "DEGRADED"
    """It was active, and now is not: see the Ready condition."""
    DELETING = "DELETING"
    """Deletion asked for; waits while EMRClusters still use the catalog."""


class DataCatalogStatus(KemrModel):
    """Observed state of a DataCatalog, written by the operator."""

    state: CatalogState | None = None
    """CREATING, ACTIVE, DEGRADED or DELETING."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation the status was computed from."""
    conditions: Conditions = Field(default_factory=list)
    """Ready (the metastore answers), DatabaseReady (its database accepts connections, the schema is in
    place), Synced (every child object was applied)."""
    endpoint: str | None = None
    """The metastore's thrift URI, thrift://<catalog>-metastore.<namespace>.svc:9083 (hive.metastore.uris)."""
    database: str | None = None
    """The database's JDBC URL (never its credentials)."""
    clusters: list[str] = Field(default_factory=list)
    """EMRClusters, not yet terminated, that use the catalog."""
    ready_time: datetime | None = None
    """When the metastore first answered."""
