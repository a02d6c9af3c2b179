"""Configuration keys and pod fields the operator owns, and how a user gets what they wanted instead.

The operator wires the daemons, drivers and volumes together: addresses, ports, directories, identities
and credentials are computed from the spec. A user value for one of them would silently break the cluster
far from where it was set (workers that can't find the master, a NameNode formatting the wrong directory,
credentials in a ConfigMap), so such keys are rejected, naming the key and the spec field that controls it.
"""

from __future__ import annotations

from kemr.api.common import Classification
from kemr.applications import APPLICATIONS
from kemr.applications import HADOOP_OWNED as APPLICATIONS_HADOOP_OWNED
from kemr.applications.base import OwnedKey

_NETWORK = "the operator sets addresses and ports from the cluster's Services"
_DIRS = "the operator mounts the cluster's volumes and sets the directories to them"
_S3_CREDS = (
    "set spec.s3.credentials (a Secret or a ServiceAccount) instead: credentials never go in configurations"
)
_S3_ENDPOINT = "set spec.s3 (endpoint, region, pathStyleAccess) instead"
_LOGS = "set spec.logUri instead"
_K8S = "kemr runs Spark standalone on pods it creates; spark.kubernetes.* settings don't apply"


# core-site.xml and the applications' Hadoop files (ConfigFile format hadoop-xml): the same keys are owned
# when written as spark.hadoop.<key> in Spark conf.
HADOOP_OWNED: dict[Classification, tuple[OwnedKey, ...]] = {
    Classification.CORE_SITE: (
        OwnedKey("fs.defaultFS", "the operator points it at the cluster's NameNode"),
        OwnedKey("fs.default.name", "the operator points fs.defaultFS at the cluster's NameNode"),
        OwnedKey("hadoop.tmp.dir", _DIRS),
        OwnedKey("fs.s3a.access.key", _S3_CREDS),
        OwnedKey("fs.s3a.secret.key", _S3_CREDS),
        OwnedKey("fs.s3a.session.token", _S3_CREDS),
        OwnedKey("fs.s3a.aws.credentials.provider", _S3_CREDS),
        OwnedKey("fs.s3a.endpoint", _S3_ENDPOINT),
        OwnedKey("fs.s3a.endpoint.region", _S3_ENDPOINT),
        OwnedKey("fs.s3a.path.style.access", _S3_ENDPOINT),
        OwnedKey("fs.s3.impl", "the operator maps s3:// to S3A"),
    ),
    **APPLICATIONS_HADOOP_OWNED,
}

# Spark keys owned both in the cluster's spark-defaults and in a step's spark.conf.
_SPARK_OWNED: tuple[OwnedKey, ...] = (
    OwnedKey("spark.master", "the operator points every driver at the cluster's Spark master"),
    OwnedKey("spark.submit.deployMode", "kemr runs drivers in client mode in their own pods"),
    OwnedKey("spark.driver.host", _NETWORK),
    OwnedKey("spark.driver.port", _NETWORK),
    OwnedKey("spark.driver.bindAddress", _NETWORK),
    OwnedKey("spark.driver.blockManager.port", _NETWORK),
    OwnedKey("spark.blockManager.port", _NETWORK),
    OwnedKey("spark.ui.port", _NETWORK),
    OwnedKey("spark.master.ui.port", _NETWORK),
    OwnedKey("spark.master.rest.", _NETWORK, prefix=True),
    OwnedKey("spark.worker.ui.port", _NETWORK),
    OwnedKey("spark.shuffle.service.port", _NETWORK),
    OwnedKey("spark.kubernetes.", _K8S, prefix=True),
    OwnedKey("spark.local.dir", _DIRS),
    OwnedKey("spark.worker.dir", _DIRS),
    OwnedKey("spark.eventLog.dir", _LOGS),
    OwnedKey("spark.history.fs.logDirectory", _LOGS),
    *(
        OwnedKey(f"spark.hadoop.{owned.key}", owned.why, prefix=owned.prefix)
        for keys in HADOOP_OWNED.values()
        for owned in keys
    ),
)

# spark-env: environment variables of the daemons and drivers.
_SPARK_ENV_OWNED: tuple[OwnedKey, ...] = (
    OwnedKey("SPARK_MASTER_HOST", _NETWORK),
    OwnedKey("SPARK_MASTER_PORT", _NETWORK),
    OwnedKey("SPARK_MASTER_WEBUI_PORT", _NETWORK),
    OwnedKey("SPARK_WORKER_PORT", _NETWORK),
    OwnedKey("SPARK_WORKER_WEBUI_PORT", _NETWORK),
    OwnedKey("SPARK_LOCAL_IP", _NETWORK),
    OwnedKey("SPARK_PUBLIC_DNS", _NETWORK),
    OwnedKey("SPARK_LOCAL_DIRS", _DIRS),
    OwnedKey("SPARK_WORKER_DIR", _DIRS),
    OwnedKey("SPARK_CONF_DIR", "the operator mounts the rendered configuration there"),
    OwnedKey("HADOOP_CONF_DIR", "the operator mounts the rendered configuration there"),
    OwnedKey("SPARK_NO_DAEMONIZE", "the daemons must run in the foreground of their containers"),
    OwnedKey("SPARK_WORKER_CORES", "set the group's resources.cpu instead"),
    OwnedKey("SPARK_WORKER_MEMORY", "set the group's resources.memory instead"),
    OwnedKey("AWS_ACCESS_KEY_ID", _S3_CREDS),
    OwnedKey("AWS_SECRET_ACCESS_KEY", _S3_CREDS),
    OwnedKey("AWS_SESSION_TOKEN", _S3_CREDS),
)


def _configuration_owned() -> dict[Classification, tuple[OwnedKey, ...]]:
    """Spark's own keys, then each application's, per classification (an application may own keys of
    another's file, e.g. Hive's spark.sql.catalogImplementation in spark-defaults)."""
    owned: dict[Classification, tuple[OwnedKey, ...]] = {
        Classification.SPARK_DEFAULTS: _SPARK_OWNED,
        Classification.SPARK_ENV: _SPARK_ENV_OWNED,
        Classification.SPARK_LOG4J2: (),
        **HADOOP_OWNED,
    }
    for module in APPLICATIONS.values():
        for classification, keys in module.owned.items():
            if classification not in HADOOP_OWNED:
                owned[classification] = (*owned.get(classification, ()), *keys)
    return owned


CONFIGURATION_OWNED: dict[Classification, tuple[OwnedKey, ...]] = _configuration_owned()

# A step's spark.conf: the spark-defaults keys, plus what the step's own fields set.
STEP_CONF_OWNED: tuple[OwnedKey, ...] = (
    *_SPARK_OWNED,
    OwnedKey("spark.driver.memory", "set spec.spark.driver.resources.memory instead"),
    OwnedKey("spark.driver.cores", "set spec.spark.driver.resources.cpu instead"),
    OwnedKey("spark.jars", "set spec.spark.jars instead"),
    OwnedKey("spark.submit.pyFiles", "set spec.spark.pyFiles instead"),
    OwnedKey(
        "spark.driver.defaultJavaOptions",
        "the operator makes a driver out of heap exit there:"
        " put your JVM options in spark.driver.extraJavaOptions",
    ),
)

# podOverrides: fields of the generated pods the operator owns (paths in the Pod object).
POD_OWNED_FIELDS: dict[tuple[str, ...], str] = {
    ("metadata", "name"): "the operator names the pods",
    ("metadata", "generateName"): "the operator names the pods",
    ("metadata", "namespace"): "pods live in the cluster's namespace",
    ("metadata", "ownerReferences"): "the operator sets the owner references",
    ("metadata", "finalizers"): "the operator manages the pods' lifecycle",
    (
        "spec",
        "serviceAccountName",
    ): "set spec.s3.credentials.serviceAccountName for a workload identity instead",
    ("spec", "serviceAccount"): "set spec.s3.credentials.serviceAccountName for a workload identity instead",
    ("spec", "hostname"): _NETWORK,
    ("spec", "subdomain"): _NETWORK,
    ("spec", "restartPolicy"): "the operator sets it per kind of pod (daemons restart, drivers don't)",
    ("spec", "nodeName"): "placement goes through the scheduler: use nodeSelector, affinity or tolerations",
}

# Labels the operator puts on every child (selectors depend on them).
OWNED_LABEL_PREFIXES = ("kemr.io/",)
OWNED_LABELS = frozenset(
    {"app.kubernetes.io/managed-by", "app.kubernetes.io/name", "app.kubernetes.io/instance"}
)


def find_owned(owned: tuple[OwnedKey, ...], key: str) -> OwnedKey | None:
    """The owned key `key` matches, if any."""
    return next((o for o in owned if o.matches(key)), None)
