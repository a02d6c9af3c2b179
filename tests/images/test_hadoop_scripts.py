"""The image's bin/hdfs and bin/hadoop (ours: Maven Central has Hadoop's jars, not its scripts) start the
classes and pass the settings the operator's entrypoints rely on (docs/image-contract.md). A stand-in `java`
prints the command line it was given, so this runs without a JRE or the image."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from image_files import IMAGES

HADOOP = IMAGES / "spark" / "hadoop"


@pytest.fixture
def java_home(tmp_path: Path) -> Path:
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    java.chmod(0o755)
    return home


def run(java_home: Path, tmp_path: Path, *argv: str, **env: str) -> list[str]:
    """The java command line `argv` leads to, one argument a line."""
    environ = {
        "PATH": "/usr/bin:/bin",
        "JAVA_HOME": str(java_home),
        "HADOOP_CONF_DIR": str(tmp_path / "conf"),
        "HADOOP_LOG_DIR": str(tmp_path / "logs"),
        **env,
    }
    proc = subprocess.run(["bash", *argv], env=environ, capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


@pytest.mark.parametrize(
    ("argv", "main_class"),
    [
        (
            ["hdfs", "namenode", "-format", "-nonInteractive", "-clusterid", "CID-1"],
            "org.apache.hadoop.hdfs.server.namenode.NameNode",
        ),
        (["hdfs", "namenode"], "org.apache.hadoop.hdfs.server.namenode.NameNode"),
        (["hdfs", "datanode"], "org.apache.hadoop.hdfs.server.datanode.DataNode"),
        (["hdfs", "dfsadmin", "-safemode", "get"], "org.apache.hadoop.hdfs.tools.DFSAdmin"),
        (["hdfs", "fsck", "/"], "org.apache.hadoop.hdfs.tools.DFSck"),
        (["hdfs", "dfs", "-ls", "/"], "org.apache.hadoop.fs.FsShell"),
        (["hdfs", "version"], "org.apache.hadoop.util.VersionInfo"),
        (["hadoop", "fs", "-get", "-f", "s3a://b/k", "/tmp/k"], "org.apache.hadoop.fs.FsShell"),
        (["hadoop", "version"], "org.apache.hadoop.util.VersionInfo"),
    ],
)
def test_subcommand_runs_its_class_with_the_arguments(
    java_home: Path, tmp_path: Path, argv: list[str], main_class: str
) -> None:
    line = run(java_home, tmp_path, str(HADOOP / "bin" / argv[0]), *argv[1:])
    position = line.index(main_class)
    assert line[position + 1 :] == argv[2:]


def test_daemon_settings_come_from_the_environment(java_home: Path, tmp_path: Path) -> None:
    line = run(
        java_home,
        tmp_path,
        str(HADOOP / "bin" / "hdfs"),
        "namenode",
        HADOOP_HEAPSIZE_MAX="1536m",
        HDFS_NAMENODE_OPTS="-Dkemr.test=namenode",
        HADOOP_OPTS="-Dkemr.test.all=1",
    )
    assert "-Xmx1536m" in line
    assert f"-Dhadoop.log.dir={tmp_path / 'logs'}" in line
    assert "-Dkemr.test=namenode" in line
    assert "-Dkemr.test.all=1" in line
    classpath = line[line.index("-cp") + 1].split(":")
    # The mounted configuration (core-site.xml, hdfs-site.xml, log4j.properties) wins over anything in jars.
    assert classpath[0] == str(tmp_path / "conf")
    assert any(entry.endswith("share/hadoop/hdfs") for entry in classpath), "webapps/ must be on it"


def test_a_bare_heap_size_is_mebibytes(java_home: Path, tmp_path: Path) -> None:
    line = run(java_home, tmp_path, str(HADOOP / "bin" / "hdfs"), "datanode", HADOOP_HEAPSIZE_MAX="512")
    assert "-Xmx512m" in line


def test_classpath_starts_with_the_configuration(java_home: Path, tmp_path: Path) -> None:
    line = run(java_home, tmp_path, str(HADOOP / "bin" / "hadoop"), "classpath")
    assert line[0].startswith(f"{tmp_path / 'conf'}:")


def test_an_unknown_subcommand_fails_with_the_usage(java_home: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(HADOOP / "bin" / "hdfs"), "nosuch"],
        env={"PATH": "/usr/bin:/bin", "JAVA_HOME": str(java_home)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "unknown subcommand 'nosuch'" in proc.stderr
    assert "namenode" in proc.stderr
