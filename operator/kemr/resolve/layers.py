"""Configuration layers, per EMR classification: release defaults ← computed defaults ← cluster
`configurations` ← group `configurations` ← what the operator owns (forced last).

A layer is `{classification: {property: value}}`. Owned properties are the addresses, ports, directories and
credentials the operator sets itself; `kemr.validate` rejects them in user configurations, and resolving
forces them anyway (the operator's value where it sets one, removed where it doesn't).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from kemr.api import Classification, Configuration
from kemr.applications import APPLICATIONS, CONFIG_FILES
from kemr.config import Release
from kemr.resolve import layout
from kemr.resolve.errors import ResolveError
from kemr.validate.owned import CONFIGURATION_OWNED, find_owned

Properties = dict[str, str]
Layers = dict[Classification, Properties]
LayersView = Mapping[Classification, Mapping[str, str]]

# --- owned keys ------------------------------------------------------------------------------------------

# What resolving itself sets (per role, see kemr.resolve.cluster). `kemr.validate.owned` lists what users
# can't set, with the reason; a key owned by either is removed from the merged layers before the operator's
# values are put in, so a user value never wins over the operator's wiring.
_FORCED: Final[Mapping[Classification, frozenset[str]]] = {
    Classification.SPARK_DEFAULTS: frozenset(
        {
            "spark.master",
            "spark.submit.deployMode",
            "spark.worker.preferConfiguredMasterAddress",
            "spark.deploy.recoveryMode",
            "spark.deploy.recoveryDirectory",
            "spark.eventLog.dir",
        }
    ),
    Classification.CORE_SITE: frozenset(
        {
            "fs.defaultFS",
            "fs.s3.impl",
            "fs.AbstractFileSystem.s3.impl",
            "fs.s3a.endpoint",
            "fs.s3a.endpoint.region",
            "fs.s3a.path.style.access",
            "fs.s3a.connection.ssl.enabled",
            "fs.s3a.aws.credentials.provider",
        }
    ),
    # Set as container environment; spark-env.sh is sourced after it and would win: kept out of it.
    Classification.SPARK_ENV: frozenset(
        {
            "SPARK_CONF_DIR",
            "HADOOP_CONF_DIR",
            "SPARK_WORKER_CORES",
            "SPARK_WORKER_MEMORY",
            "SPARK_WORKER_DIR",
            "SPARK_LOCAL_DIRS",
            "SPARK_DAEMON_MEMORY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        }
    ),
    Classification.SPARK_LOG4J2: frozenset(),
}
# And what the applications force (kemr.applications: their daemons' addresses and directories).
FORCED_PROPERTIES: Final[Mapping[Classification, frozenset[str]]] = {
    classification: _FORCED.get(classification, frozenset()).union(
        *(m.forced.get(classification, frozenset()) for m in APPLICATIONS.values())
    )
    for classification in Classification
}


def is_owned(classification: Classification, key: str) -> bool:
    """True when the operator sets `key` itself: a user value for it never reaches the files."""
    if key in FORCED_PROPERTIES.get(classification, frozenset()):
        return True
    return find_owned(CONFIGURATION_OWNED.get(classification, ()), key) is not None


# --- release defaults ------------------------------------------------------------------------------------

_LOG4J2_DEFAULTS: Final[Mapping[str, str]] = {
    # Spark's conf/log4j2.properties.template, to stderr so `kubectl logs` shows it.
    "rootLogger.level": "info",
    "rootLogger.appenderRef.stdout.ref": "console",
    "appender.console.type": "Console",
    "appender.console.name": "console",
    "appender.console.target": "SYSTEM_ERR",
    "appender.console.layout.type": "PatternLayout",
    "appender.console.layout.pattern": "%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex",
    "logger.jetty.name": "org.sparkproject.jetty",
    "logger.jetty.level": "warn",
    "logger.jetty2.name": "org.sparkproject.jetty.util.component.AbstractLifeCycle",
    "logger.jetty2.level": "error",
    "logger.parquet.name": "org.apache.parquet",
    "logger.parquet.level": "error",
    "logger.native.name": "org.apache.hadoop.util.NativeCodeLoader",
    "logger.native.level": "error",
    # The line naming the application's id ("Connected to Spark cluster with app ID ..."), which submit.sh
    # reads into status.attempts[].applicationId: at INFO even when spark-log4j2 lowers the root logger.
    "logger.kemrappid.name": "org.apache.spark.scheduler.cluster.StandaloneSchedulerBackend",
    "logger.kemrappid.level": "info",
    # S3A looks for a metrics file of its own at start and warns when there is none.
    "logger.metrics.name": "org.apache.hadoop.metrics2.impl.MetricsConfig",
    "logger.metrics.level": "error",
}


def release_defaults(release: Release) -> Layers:
    """What every cluster of the release starts from. One table today; a later release may differ."""
    del release  # kemr-1.0 is the only release
    return {
        Classification.SPARK_DEFAULTS: {
            # S3A committers: job output appears complete (with _SUCCESS) or not at all.
            "spark.sql.sources.commitProtocolClass": (
                "org.apache.spark.internal.io.cloud.PathOutputCommitProtocol"
            ),
            "spark.sql.parquet.output.committer.class": (
                "org.apache.spark.internal.io.cloud.BindingParquetOutputCommitter"
            ),
            # JARs a bootstrap action drops into the shared local directory.
            "spark.driver.extraClassPath": f"{layout.LOCAL_JARS}/*",
            "spark.executor.extraClassPath": f"{layout.LOCAL_JARS}/*",
            "spark.worker.cleanup.enabled": "true",
        },
        Classification.SPARK_ENV: {"PYSPARK_PYTHON": "python3"},
        Classification.SPARK_LOG4J2: dict(_LOG4J2_DEFAULTS),
        Classification.CORE_SITE: {
            "fs.s3a.committer.name": "magic",
            "fs.s3a.committer.magic.enabled": "true",
            "mapreduce.outputcommitter.factory.scheme.s3a": (
                "org.apache.hadoop.fs.s3a.commit.S3ACommitterFactory"
            ),
        },
    }


# --- merging ---------------------------------------------------------------------------------------------


def empty_layers() -> Layers:
    return {classification: {} for classification in Classification}


def spec_layer(configurations: Sequence[Configuration]) -> Layers:
    """A spec's `configurations` as a layer."""
    layer = empty_layers()
    for configuration in configurations:
        layer[configuration.classification].update(configuration.properties)
    return layer


def merge_layers(*layers: LayersView) -> Layers:
    """Later layers win, property by property, per classification."""
    merged = empty_layers()
    for layer in layers:
        for classification, properties in layer.items():
            merged[classification].update(properties)
    return merged


def force_owned(merged: LayersView, owned_values: LayersView) -> Layers:
    """Remove every owned key, then set the owned values: the operator's word is final."""
    result: Layers = {}
    for classification in Classification:
        kept = {k: v for k, v in merged.get(classification, {}).items() if not is_owned(classification, k)}
        kept.update(owned_values.get(classification, {}))
        result[classification] = kept
    return result


def user_keys(configurations: Iterable[Configuration]) -> set[tuple[Classification, str]]:
    """Every (classification, key) a list of configurations sets."""
    return {(conf.classification, key) for conf in configurations for key in conf.properties}


# --- what the files can hold -----------------------------------------------------------------------------

# Characters XML 1.0 can't carry, even escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_XML_FILES = tuple(f.classification for f in CONFIG_FILES if f.format == "hadoop-xml" and f.classification)


def check_renderable(layer: LayersView, field: str) -> None:
    """What no escaping can fix: control characters in an XML file, spark-env names that aren't names."""
    for classification in _XML_FILES:
        for key, value in layer.get(classification, {}).items():
            if _XML_INVALID.search(key) or _XML_INVALID.search(value):
                raise ResolveError(
                    f"{field}[{classification.value}].properties[{key}]",
                    "holds a control character an XML file can't contain",
                )
    for key in layer.get(Classification.SPARK_ENV, {}):
        if not _ENV_NAME.match(key):
            raise ResolveError(
                f"{field}[{Classification.SPARK_ENV.value}].properties[{key}]",
                "is not an environment variable name (letters, digits and _, not starting with a digit)",
            )
