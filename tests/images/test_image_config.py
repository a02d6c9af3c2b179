"""The built images' configuration (read from the OCI archives images/build.sh wrote; no container runtime):
the user and environment docs/image-contract.md promises. Skipped until the images are built (make images)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from image_files import archive, archive_config, env_of


def built(name: str) -> dict[str, Any]:
    path: Path = archive(name)
    if not path.exists():
        pytest.skip(f"no {name} image archive at {path}: run `make images` (or images/build.sh {name})")
    return archive_config(path)


def test_dataplane_image_runs_as_spark_185() -> None:
    assert built("spark")["config"]["User"] == "185:185"


def test_dataplane_image_works_in_a_writable_directory() -> None:
    """Drivers write relative paths (spark-warehouse/, derby.log); only /tmp is writable in kemr's pods."""
    assert built("spark")["config"]["WorkingDir"] == "/tmp"


def test_dataplane_image_environment_follows_the_contract() -> None:
    env = env_of(built("spark"))
    assert env["SPARK_HOME"] == "/opt/spark"
    assert env["HADOOP_HOME"] == "/opt/hadoop"
    assert env["JAVA_HOME"]
    assert env["LANG"] == "C.UTF-8"
    path = env["PATH"].split(":")
    for directory in ("/opt/spark/bin", "/opt/hadoop/bin", f"{env['JAVA_HOME']}/bin", "/usr/bin"):
        assert directory in path
    python_path = env["PYTHONPATH"].split(":")
    assert "/opt/spark/python" in python_path
    assert any(p.startswith("/opt/spark/python/lib/py4j-") and p.endswith("-src.zip") for p in python_path)


def test_dataplane_image_has_the_metastore_and_postgresql_on_path() -> None:
    """kemr-metastore, kemr-metastore-schema, kemr-postgres and PostgreSQL's tools (psql, pg_isready)."""
    env = env_of(built("spark"))
    assert env["METASTORE_HOME"] == "/opt/hive-metastore"
    path = env["PATH"].split(":")
    assert "/opt/hive-metastore/bin" in path
    assert "/usr/lib/postgresql/15/bin" in path


def test_operator_image_runs_kemr_as_nonroot() -> None:
    config = built("operator")["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["kemr"]
    assert config["Cmd"] == ["run"]


def test_notebook_image_follows_the_contract() -> None:
    """docs/image-contract.md, "Notebook": the data-plane image's environment, kemr-notebook as the command,
    everything Jupyter and IPython write under /tmp."""
    config = built("notebook")
    assert config["config"]["User"] == "185:185"
    assert config["config"]["WorkingDir"] == "/tmp"
    assert config["config"]["Cmd"] == ["/opt/kemr-notebook/bin/kemr-notebook"]
    assert "8888/tcp" in config["config"]["ExposedPorts"]
    assert config["config"]["Labels"]["io.kemr.jupyterlab-version"] == "4.6.6"
    env = env_of(config)
    assert env["SPARK_HOME"] == "/opt/spark"
    assert "/opt/spark/python" in env["PYTHONPATH"].split(":")
    path = env["PATH"].split(":")
    assert path[:2] == ["/opt/kemr-notebook/bin", "/opt/kemr-notebook/venv/bin"]
    assert "/opt/spark/bin" in path
    assert env["HOME"] == "/tmp"
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        assert env[name].startswith("/tmp/"), name
    assert env["JUPYTER_CONFIG_PATH"] == "/opt/kemr-notebook/etc"


def test_trino_image_follows_the_contract() -> None:
    """docs/image-contract.md, "Trino": uid 185, TRINO_HOME, JAVA_HOME, /usr/local/bin on PATH."""
    config = built("trino")
    assert config["config"]["User"] == "185:185"
    env = env_of(config)
    assert env["TRINO_HOME"] == "/opt/trino"
    assert env["JAVA_HOME"]
    path = env["PATH"].split(":")
    assert "/usr/local/bin" in path
    assert f"{env['JAVA_HOME']}/bin" in path
