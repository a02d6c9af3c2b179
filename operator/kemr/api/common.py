"""Sub-models shared by EMRCluster and EMRStep."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from kemr.api.base import PRESERVE_UNKNOWN_FIELDS, KemrModel, Quantity, list_map

# Bounds on strings and lists: CEL cost estimation needs them wherever a rule compares or iterates, and
# they keep one object far below etcd's size limit.
MAX_PROPERTY_VALUE_LENGTH = 8192
MAX_PROPERTIES = 256
MAX_ARG_LENGTH = 4096
MAX_ARGS = 256
MAX_URI_LENGTH = 2048

# A partial pod template (metadata + spec) deep-merged into generated pods; fields the operator owns win.
PodOverrides = Annotated[dict[str, Any] | None, Field(json_schema_extra=PRESERVE_UNKNOWN_FIELDS)]

LabelMap = Annotated[dict[str, Annotated[str, Field(max_length=63)]], Field(max_length=64)]


class Resources(KemrModel):
    """CPU and memory of each pod of a node group (requests and limits)."""

    cpu: Quantity = "1"
    """CPU cores per pod, as a Kubernetes quantity: `1`, `500m`, `4`."""
    memory: Quantity = "4Gi"
    """Memory per pod, as a Kubernetes quantity: `4Gi`, `16Gi`. Spark daemons and executors are sized
    from it."""


class Storage(KemrModel):
    """A PersistentVolumeClaim per pod."""

    size: Quantity
    """Requested size of the volume, e.g. `10Gi`."""
    storage_class_name: str | None = Field(default=None, max_length=253)
    """StorageClass of the volume; the namespace's default StorageClass when unset."""


class Classification(StrEnum):
    """The configuration files kemr renders, named as EMR names them."""

    SPARK_DEFAULTS = "spark-defaults"
    SPARK_ENV = "spark-env"
    SPARK_LOG4J2 = "spark-log4j2"
    CORE_SITE = "core-site"
    HDFS_SITE = "hdfs-site"
    HIVE_SITE = "hive-site"
    TRINO_CONFIG = "trino-config"
    TRINO_LOG = "trino-log"
    TRINO_CONNECTOR_HIVE = "trino-connector-hive"
    TRINO_CONNECTOR_TPCH = "trino-connector-tpch"
    TRINO_CONNECTOR_MEMORY = "trino-connector-memory"


class Configuration(KemrModel):
    """Properties of one configuration file (an EMR classification)."""

    classification: Classification
    """Which file: spark-defaults (spark-defaults.conf), spark-env (environment variables of the Spark
    daemons and drivers), spark-log4j2 (log4j2.properties), core-site (core-site.xml), hdfs-site
    (hdfs-site.xml), hive-site (hive-site.xml: the Hive client's, read by Spark SQL, and the cluster's own
    metastore's), and Trino's as EMR names them: trino-config (config.properties), trino-log
    (log.properties), trino-connector-hive, trino-connector-tpch and trino-connector-memory (the catalogs
    hive, tpch and memory)."""
    properties: dict[str, Annotated[str, Field(max_length=MAX_PROPERTY_VALUE_LENGTH)]] = Field(
        default_factory=dict, max_length=MAX_PROPERTIES
    )
    """Property name to value; values are strings (quote numbers and booleans in YAML). Keys the operator sets
    itself (addresses, ports, directories, credentials) are rejected."""


Configurations = Annotated[
    list[Configuration],
    Field(max_length=len(Classification), json_schema_extra=list_map("classification")),
]


class LabelSelectorOperator(StrEnum):
    """A label selector requirement's operator."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(KemrModel):
    """A label selector requirement: a key, an operator and values."""

    key: str = Field(max_length=317)
    """The label key the selector applies to."""
    operator: LabelSelectorOperator
    """In, NotIn, Exists or DoesNotExist."""
    values: list[Annotated[str, Field(max_length=63)]] = Field(default_factory=list, max_length=64)
    """Values for In and NotIn; empty for Exists and DoesNotExist."""


class LabelSelector(KemrModel):
    """A Kubernetes label selector; an empty selector matches everything."""

    match_labels: LabelMap | None = None
    """Labels that must all match exactly."""
    match_expressions: list[LabelSelectorRequirement] | None = Field(default=None, max_length=16)
    """Requirements that must all hold."""


class ConditionStatus(StrEnum):
    """Status of a condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(KemrModel):
    """One aspect of the object's current state, as metav1.Condition."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    )
    """Condition type: Ready, Progressing, Degraded or Stalled (kstatus reads Ready and Stalled)."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: str = Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    """Programmatic identifier of the reason of the last transition, in CamelCase."""
    message: str = Field(default="", max_length=32768)
    """Human-readable details of the last transition."""
    last_transition_time: datetime
    """When the condition last changed status."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation the condition was computed from."""


Conditions = Annotated[list[Condition], Field(max_length=16, json_schema_extra=list_map("type"))]
