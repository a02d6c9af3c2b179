"""Ports, paths and uid the pods are laid out with: shared by the configuration files and the pod builders,
and part of the data-plane image contract (docs/image-contract.md)."""

from __future__ import annotations

from typing import Final

from kemr.applications import base
from kemr.applications.spark import WORKER_DECOMMISSION_SECONDS
from kemr.applications.trino import DRAIN_SECONDS as TRINO_DRAIN_SECONDS

# The ports, directories and files of each application are its module's (kemr.applications).
# A DataCatalog's PostgreSQL (kemr.resolve.catalog; its metastore's port is kemr.applications.hive's).
POSTGRES_PORT: Final = 5432

# The image's user (as the Apache Spark images) and its home-independent writable places.
UID: Final = 185
GID: Final = 185

# Mounts.
CONF_DIR: Final = base.CONF_DIR  # the group's ConfigMap
SPARK_CONF_DIR: Final = f"{CONF_DIR}/spark"
HADOOP_CONF_DIR: Final = f"{CONF_DIR}/hadoop"
SCRIPTS_DIR: Final = "/opt/kemr/scripts"  # the cluster's scripts ConfigMap
LOCAL_DIR: Final = "/opt/kemr/local"  # emptyDir shared by bootstrap actions and daemons
LOCAL_HOME: Final = (
    f"{LOCAL_DIR}/home"  # HOME: `pip install --user` in a bootstrap action reaches the daemons
)
LOCAL_JARS: Final = f"{LOCAL_DIR}/jars"
DATA_DIR: Final = base.DATA_DIR  # the PVC (master, core) or an emptyDir (task)
TMP_DIR: Final = "/tmp"  # emptyDir: the root filesystem is read-only
# A Spark worker being removed decommissions for up to WORKER_DECOMMISSION_SECONDS, a Trino worker drains for
# up to TRINO_DRAIN_SECONDS (their preStop hooks, run side by side); the pod's grace period adds a margin for
# the daemons to stop after them.
WORKER_GRACE_SECONDS: Final = max(WORKER_DECOMMISSION_SECONDS, TRINO_DRAIN_SECONDS) + 30

HADOOP_LOG_DIR: Final = f"{TMP_DIR}/logs/hadoop"
SPARK_LOG_DIR: Final = f"{TMP_DIR}/logs/spark"
