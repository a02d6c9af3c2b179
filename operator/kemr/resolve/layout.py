"""Ports, paths and uid the pods are laid out with: shared by the configuration files and the pod builders,
and part of the data-plane image contract (docs/image-contract.md)."""

from __future__ import annotations

from typing import Final

# Ports. The Spark ones are Spark's defaults, the HDFS ones Hadoop 3's.
SPARK_MASTER_PORT: Final = 7077
SPARK_MASTER_UI_PORT: Final = 8080
SPARK_WORKER_PORT: Final = 7078
SPARK_WORKER_UI_PORT: Final = 8081
NAMENODE_RPC_PORT: Final = 8020
NAMENODE_HTTP_PORT: Final = 9870
DATANODE_DATA_PORT: Final = 9866
DATANODE_HTTP_PORT: Final = 9864
DATANODE_IPC_PORT: Final = 9867

# The image's user (as the Apache Spark images) and its home-independent writable places.
UID: Final = 185
GID: Final = 185

# Mounts.
CONF_DIR: Final = "/etc/kemr/conf"  # the group's ConfigMap
SPARK_CONF_DIR: Final = f"{CONF_DIR}/spark"
HADOOP_CONF_DIR: Final = f"{CONF_DIR}/hadoop"
SCRIPTS_DIR: Final = "/opt/kemr/scripts"  # the cluster's scripts ConfigMap
LOCAL_DIR: Final = "/opt/kemr/local"  # emptyDir shared by bootstrap actions and daemons
LOCAL_HOME: Final = (
    f"{LOCAL_DIR}/home"  # HOME: `pip install --user` in a bootstrap action reaches the daemons
)
LOCAL_JARS: Final = f"{LOCAL_DIR}/jars"
DATA_DIR: Final = "/data"  # the PVC (master, core) or an emptyDir (task)
TMP_DIR: Final = "/tmp"  # emptyDir: the root filesystem is read-only
# The NameNode's dfs.hosts.exclude (the DataNodes being decommissioned): a ConfigMap the operator rewrites,
# mounted whole (not by subPath) so the kubelet refreshes it in place.
# A Spark worker being removed decommissions for up to this long (its preStop hook); the pod's grace period
# adds a margin for the daemons to stop after it.
WORKER_DECOMMISSION_SECONDS: Final = 120
WORKER_GRACE_SECONDS: Final = WORKER_DECOMMISSION_SECONDS + 30
HDFS_EXCLUDE_DIR: Final = "/etc/kemr/hdfs-exclude"
HDFS_EXCLUDE_KEY: Final = "dfs.exclude"
HDFS_EXCLUDE_FILE: Final = f"{HDFS_EXCLUDE_DIR}/{HDFS_EXCLUDE_KEY}"

NAMENODE_DIR: Final = f"{DATA_DIR}/hdfs/namenode"
NAMENODE_FORMATTED_MARKER: Final = f"{DATA_DIR}/hdfs/.kemr-formatted"
DATANODE_DIR: Final = f"{DATA_DIR}/hdfs/datanode"
SPARK_RECOVERY_DIR: Final = f"{DATA_DIR}/spark/recovery"
SPARK_WORKER_DIR: Final = f"{DATA_DIR}/spark/work"
SPARK_LOCAL_DIRS: Final = f"{DATA_DIR}/spark/local"
HADOOP_LOG_DIR: Final = f"{TMP_DIR}/logs/hadoop"
SPARK_LOG_DIR: Final = f"{TMP_DIR}/logs/spark"

# Files of a group's ConfigMap: key -> path under CONF_DIR.
CONFIG_FILES: Final = {
    "spark-defaults.conf": "spark/spark-defaults.conf",
    "spark-env.sh": "spark/spark-env.sh",
    "log4j2.properties": "spark/log4j2.properties",
    "core-site.xml": "hadoop/core-site.xml",
    "hdfs-site.xml": "hadoop/hdfs-site.xml",
    "log4j.properties": "hadoop/log4j.properties",
}
