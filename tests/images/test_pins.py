"""The images pin what the release promises: the Dockerfiles, the Maven pom and operator/kemr/config.py agree.

images/build.sh runs the Dockerfiles themselves (buildah), so these pins are also the offline build's.
"""

from __future__ import annotations

import re
from pathlib import Path

from image_files import (
    NOTEBOOK_DOCKERFILE,
    NOTEBOOK_REQUIREMENTS,
    OPERATOR_DOCKERFILE,
    SPARK_DOCKERFILE,
    TRINO_DOCKERFILE,
    TRINO_REQUIREMENTS,
    dockerfile_pins,
    dockerfile_stages,
    image_lib,
    pom_properties,
)

from kemr import __version__
from kemr.config import BUILTIN_RELEASES

RELEASE_LABEL = "kemr-1.0"


def test_spark_dockerfile_pins_the_release_versions() -> None:
    release = BUILTIN_RELEASES[RELEASE_LABEL]
    pins = dockerfile_pins(SPARK_DOCKERFILE)
    assert pins["SPARK_VERSION"] == release.spark_version
    assert pins["HADOOP_VERSION"] == release.hadoop_version
    assert pins["SPARK_HADOOP_VERSION"] == release.spark_hadoop_version


def test_every_stage_pins_the_same_versions() -> None:
    stages = dockerfile_stages(SPARK_DOCKERFILE)
    fetch, hive, final = stages[1], stages[2], stages[-1]
    for name in ("SPARK_VERSION", "HADOOP_VERSION", "PY4J_VERSION"):
        assert fetch[name] == final[name], f"ARG {name} differs between the fetch and the final stage"
    assert hive["HIVE_METASTORE_VERSION"] == final["HIVE_METASTORE_VERSION"]


def test_downloads_are_the_pinned_versions_and_checksummed() -> None:
    pins = dockerfile_pins(SPARK_DOCKERFILE)
    assert pins["PYSPARK_URL"].endswith(f"/pyspark-{pins['SPARK_VERSION']}.tar.gz")
    assert pins["PY4J_URL"].endswith(f"/py4j-{pins['PY4J_VERSION']}-py2.py3-none-any.whl")
    for name in ("PYSPARK_SHA256", "PY4J_SHA256"):
        assert re.fullmatch(r"[0-9a-f]{64}", pins[name]), f"ARG {name} must be a sha256"


def test_hive_metastore_downloads_are_pinned_and_checksummed() -> None:
    """The metastore is 3.1 (serving EMR 6's Spark 3 + Hive 2.3.9 client); its JDBC driver is 42.7."""
    pins = dockerfile_pins(SPARK_DOCKERFILE)
    version = pins["HIVE_METASTORE_VERSION"]
    assert version.startswith("3.1.")
    assert pins["HIVE_METASTORE_URL"] == (
        "https://repo1.maven.org/maven2/org/apache/hive/hive-standalone-metastore/"
        f"{version}/hive-standalone-metastore-{version}-bin.tar.gz"
    )
    jdbc = pins["POSTGRESQL_JDBC_VERSION"]
    assert jdbc.startswith("42.7.")
    assert pins["POSTGRESQL_JDBC_URL"].endswith(f"/org/postgresql/postgresql/{jdbc}/postgresql-{jdbc}.jar")
    for name in ("HIVE_METASTORE_SHA256", "POSTGRESQL_JDBC_SHA256"):
        assert re.fullmatch(r"[0-9a-f]{64}", pins[name]), f"ARG {name} must be a sha256"


def test_pom_defaults_equal_the_dockerfile_pins() -> None:
    """The Dockerfile passes its pins to Maven with -D; the pom's own defaults must not drift from them."""
    pins = dockerfile_pins(SPARK_DOCKERFILE)
    props = pom_properties()
    assert props["hadoop.version"] == pins["HADOOP_VERSION"]
    assert props["spark.hadoop.version"] == pins["SPARK_HADOOP_VERSION"]
    assert props["spark.aws.sdk.version"] == pins["SPARK_AWS_SDK_VERSION"]
    assert props["spark.hadoop.cloud.version"] == pins["SPARK_HADOOP_CLOUD_VERSION"]
    assert props["scala.binary.version"] == BUILTIN_RELEASES[RELEASE_LABEL].scala_version


def test_spark_hadoop_cloud_is_of_the_same_spark_line() -> None:
    """Maven Central may lack spark-hadoop-cloud for the newest patch release; a patch release of the same
    minor (binary compatible) is the only acceptable stand-in."""
    pins = dockerfile_pins(SPARK_DOCKERFILE)
    spark_minor = pins["SPARK_VERSION"].rsplit(".", 1)[0]
    assert pins["SPARK_HADOOP_CLOUD_VERSION"].rsplit(".", 1)[0] == spark_minor


def test_image_names_are_the_operator_defaults() -> None:
    release = BUILTIN_RELEASES[RELEASE_LABEL]
    assert image_lib("$SPARK_IMAGE") == release.image_or_default(RELEASE_LABEL)
    assert image_lib("$(operator_image)") == f"ghcr.io/kemr-io/kemr-operator:{__version__}"


def test_operator_dockerfile_runs_kemr_as_nonroot() -> None:
    text = OPERATOR_DOCKERFILE.read_text()
    assert "USER 65532:65532" in text
    assert 'ENTRYPOINT ["kemr"]' in text
    assert 'CMD ["run"]' in text  # the chart's args start with `run`
    assert "--require-hashes" in text


def test_trino_downloads_are_the_pinned_version_and_checksummed() -> None:
    """Trino's server core, its three plugins and the CLI, all of TRINO_VERSION, from Maven Central."""
    pins = dockerfile_pins(TRINO_DOCKERFILE)
    version = pins["TRINO_VERSION"]
    maven = "https://repo1.maven.org/maven2/io/trino"
    server = f"{maven}/trino-server-core/{version}/trino-server-core-{version}.tar.gz"
    assert pins["TRINO_SERVER_URL"] == server
    for plugin in ("hive", "tpch", "memory"):
        url = pins[f"TRINO_{plugin.upper()}_URL"]
        assert url == f"{maven}/trino-{plugin}/{version}/trino-{plugin}-{version}.zip"
    assert pins["TRINO_CLI_URL"] == f"{maven}/trino-cli/{version}/trino-cli-{version}-executable.jar"
    for name in ("SERVER", "HIVE", "TPCH", "MEMORY", "CLI"):
        assert re.fullmatch(r"[0-9a-f]{64}", pins[f"TRINO_{name}_SHA256"]), f"ARG TRINO_{name}_SHA256"


def test_trino_stages_pin_the_same_version() -> None:
    stages = dockerfile_stages(TRINO_DOCKERFILE)
    assert stages[1]["TRINO_VERSION"] == stages[-1]["TRINO_VERSION"]


def locked_versions(requirements_txt: Path) -> dict[str, str]:
    """What a lock (uv pip compile --generate-hashes) pins: each requirement `name==version`, hashed."""
    text = requirements_txt.read_text()
    requirements = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    pinned = [re.match(r"([a-z0-9][a-z0-9._-]*)==(\S+) ", line) for line in requirements]
    assert all(pinned), f"not pinned: {[r for r, p in zip(requirements, pinned, strict=True) if not p]}"
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", text)) >= len(requirements)
    return {p[1]: p[2] for p in pinned if p}


def test_trino_step_dependencies_are_locked_with_hashes() -> None:
    """kemr-trino-step's venv installs requirements.txt with --require-hashes: each one pinned, hashed."""
    assert {"trino", "sqlparse", "boto3"} <= locked_versions(TRINO_REQUIREMENTS).keys()
    assert "--require-hashes" in TRINO_DOCKERFILE.read_text()


def test_trino_image_name_and_base() -> None:
    assert image_lib("$TRINO_IMAGE") == f"ghcr.io/kemr-io/kemr-trino:{RELEASE_LABEL}"
    assert image_lib("$TRINO_DEBIAN_SUITE") == "trixie"
    assert "ARG BASE=debian:trixie-slim" in TRINO_DOCKERFILE.read_text()


def test_notebook_dependencies_are_locked_with_hashes_for_bookworms_python() -> None:
    """The notebook venv installs requirements.txt with --require-hashes; the lock is for Python 3.11 (that of
    bookworm and the kemr-spark image: the kernel is a Spark driver, whose Python must be its executors')."""
    locked = locked_versions(NOTEBOOK_REQUIREMENTS)
    assert {"jupyterlab", "ipykernel", "s3contents", "jupyter-server"} <= locked.keys()
    assert locked["jupyterlab"] == dockerfile_pins(NOTEBOOK_DOCKERFILE)["JUPYTERLAB_VERSION"]
    assert "--python-version 3.11 " in NOTEBOOK_REQUIREMENTS.read_text()
    assert "pyspark" not in locked  # the image's own, of the cluster's Spark version (PYTHONPATH)
    assert "--require-hashes" in NOTEBOOK_DOCKERFILE.read_text()


def test_notebook_image_name_and_base() -> None:
    """Built FROM the data-plane image, its venv stage on the same Debian base."""
    name = image_lib("$NOTEBOOK_IMAGE")
    assert name == f"ghcr.io/kemr-io/kemr-notebook:{RELEASE_LABEL}"
    assert name == BUILTIN_RELEASES[RELEASE_LABEL].notebook_image_or_default(RELEASE_LABEL)  # the operator's
    pins = dockerfile_pins(NOTEBOOK_DOCKERFILE)
    assert pins["SPARK_IMAGE"] == image_lib("$SPARK_IMAGE")
    assert pins["BASE"] == dockerfile_pins(SPARK_DOCKERFILE)["BASE"] == "debian:bookworm-slim"
