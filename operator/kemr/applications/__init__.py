"""The applications a cluster runs (`spec.applications`), registered in one table: what each one (Spark,
HDFS, Hive, Trino) contributes, declared in its own module as an `ApplicationModule`, and looked up here by
the stages (validate, resolve, builders) that iterate over the enabled ones and never name one. Adding an
application: docs/operator.md, "Adding an application".

Pure; sits below kemr.validate (owned keys, spec checks) beside kemr.steptypes, and imports only kemr.api
and kemr.config.
"""

from __future__ import annotations

from collections.abc import Sequence

from kemr.api import Application
from kemr.applications.base import ApplicationModule, ClusterContext, ConfigFile, hadoop_owned
from kemr.applications.hdfs import HDFS
from kemr.applications.hive import HIVE
from kemr.applications.spark import SPARK
from kemr.applications.trino import TRINO

APPLICATIONS: dict[Application, ApplicationModule] = {
    module.application: module for module in (SPARK, HDFS, HIVE, TRINO)
}
"""Every application, in the order their containers, ports, files and scripts appear (Spark first)."""

CONFIG_FILES: tuple[ConfigFile, ...] = tuple(f for m in APPLICATIONS.values() for f in m.files)
"""Every configuration file of every application, in registry order."""

HADOOP_OWNED = hadoop_owned(tuple(APPLICATIONS.values()))
"""Owned keys of the applications' Hadoop files, which Spark conf owns as spark.hadoop.<key> too."""


def enabled(applications: Sequence[Application]) -> tuple[ApplicationModule, ...]:
    """The modules of a spec's applications, in registry order."""
    return tuple(m for app, m in APPLICATIONS.items() if app in applications)


def files_of(applications: Sequence[Application]) -> tuple[ConfigFile, ...]:
    """The configuration files a cluster renders: its applications' and those rendered always."""
    return tuple(f for app, m in APPLICATIONS.items() for f in m.files if f.always or app in applications)


__all__ = [
    "APPLICATIONS",
    "CONFIG_FILES",
    "HADOOP_OWNED",
    "ApplicationModule",
    "ClusterContext",
    "enabled",
    "files_of",
]
