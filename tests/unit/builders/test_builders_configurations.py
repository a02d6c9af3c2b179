"""Configuration layers and the files they become: release ← cluster ← group ← owned, escaped right."""

from __future__ import annotations

import shutil
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from golden_support import children_by_key, resolve_spec, small_spec

from kemr.api import Classification
from kemr.builders.render import render_config_files, render_properties, render_spark_env
from kemr.resolve import ResolveError


def _site(xml_text: str) -> dict[str, str]:
    root = ET.fromstring(xml_text)
    return {p.findtext("name") or "": p.findtext("value") or "" for p in root.iter("property")}


def test_precedence_release_then_cluster_then_group() -> None:
    spec = small_spec(
        configurations=[
            {"classification": "spark-defaults", "properties": {"spark.a": "cluster", "spark.b": "cluster"}},
            {"classification": "spark-log4j2", "properties": {"rootLogger.level": "warn"}},
        ],
        coreGroups=[
            {
                "name": "core",
                "configurations": [{"classification": "spark-defaults", "properties": {"spark.b": "group"}}],
            }
        ],
    )
    resolved = resolve_spec(spec)
    core = resolved.group("core", "core").configuration
    task = resolved.group("task", "spot").configuration
    assert core[Classification.SPARK_DEFAULTS]["spark.a"] == "cluster"
    assert core[Classification.SPARK_DEFAULTS]["spark.b"] == "group"
    assert task[Classification.SPARK_DEFAULTS]["spark.b"] == "cluster"
    assert core[Classification.SPARK_LOG4J2]["rootLogger.level"] == "warn"  # cluster over release
    assert core[Classification.SPARK_LOG4J2]["appender.console.type"] == "Console"  # release default kept
    assert resolved.master.configuration[Classification.SPARK_DEFAULTS]["spark.b"] == "cluster"


def test_owned_keys_are_forced_whatever_a_layer_says() -> None:
    # The validator rejects these; resolving must not let them through even when it is bypassed.
    spec = small_spec(
        configurations=[
            {"classification": "spark-defaults", "properties": {"spark.master": "local[*]"}},
            {"classification": "core-site", "properties": {"fs.defaultFS": "file:///"}},
            {"classification": "spark-env", "properties": {"SPARK_WORKER_MEMORY": "1t", "OK_VAR": "1"}},
        ]
    )
    resolved = resolve_spec(spec)
    for configuration in (resolved.master.configuration, resolved.client_configuration):
        assert (
            configuration[Classification.SPARK_DEFAULTS]["spark.master"]
            == "spark://sales-master.analytics.svc:7077"
        )
        assert (
            configuration[Classification.CORE_SITE]["fs.defaultFS"]
            == "hdfs://sales-master.analytics.svc:8020"
        )
        assert "SPARK_WORKER_MEMORY" not in configuration[Classification.SPARK_ENV]
        assert configuration[Classification.SPARK_ENV]["OK_VAR"] == "1"


def test_client_configuration_computed_defaults_sit_under_the_spec() -> None:
    plain = resolve_spec(small_spec(logUri="s3://bucket/logs"))
    spark = plain.client_configuration[Classification.SPARK_DEFAULTS]
    assert spark["spark.executor.memory"].endswith("m")
    assert spark["spark.eventLog.enabled"] == "true"
    assert spark["spark.eventLog.dir"] == "s3a://bucket/logs/sales-6f1c2a4e/spark-events"
    assert spark["spark.submit.deployMode"] == "client"
    assert plain.client_configuration[Classification.HDFS_SITE]["dfs.replication"] == "2"
    user = resolve_spec(
        small_spec(
            configurations=[
                {"classification": "spark-defaults", "properties": {"spark.executor.memory": "1g"}},
                {"classification": "hdfs-site", "properties": {"dfs.replication": "1"}},
            ]
        )
    )
    assert user.client_configuration[Classification.SPARK_DEFAULTS]["spark.executor.memory"] == "1g"
    assert user.client_configuration[Classification.HDFS_SITE]["dfs.replication"] == "1"
    assert int(user.client_configuration[Classification.HDFS_SITE]["dfs.replication"]) == 1


@pytest.mark.parametrize(("core_replicas", "expected"), [([1], 1), ([2], 2), ([3], 3), ([4, 5], 3)])
def test_hdfs_replication_defaults_to_min_3_core_nodes(core_replicas: list[int], expected: int) -> None:
    groups = [{"name": f"c{i}", "replicas": n} for i, n in enumerate(core_replicas)]
    client = resolve_spec(small_spec(coreGroups=groups)).client_configuration
    assert int(client[Classification.HDFS_SITE]["dfs.replication"]) == expected


def test_files_render_from_the_final_layers() -> None:
    spec = small_spec(
        configurations=[{"classification": "hdfs-site", "properties": {"dfs.blocksize": "64m"}}]
    )
    cm = children_by_key(resolve_spec(spec))[("ConfigMap", "sales-core-core-config")]["data"]
    assert set(cm) == {
        "spark-defaults.conf",
        "spark-env.sh",
        "log4j2.properties",
        "core-site.xml",
        "hdfs-site.xml",
        "log4j.properties",
    }
    hdfs = _site(cm["hdfs-site.xml"])
    assert hdfs["dfs.blocksize"] == "64m"
    assert hdfs["dfs.datanode.data.dir"] == "file:///data/hdfs/datanode"
    assert "spark.master=spark://sales-master.analytics.svc:7077\n" in cm["spark-defaults.conf"]


# Loads a properties file as Spark does (a UTF-8 Reader) and prints each entry URL-encoded.
JAVA_READER = """
import java.io.*;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.*;

public class Read {
  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    try (Reader r = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) {
      p.load(r);
    }
    for (String k : p.stringPropertyNames()) {
      System.out.println(URLEncoder.encode(k, "UTF-8") + " " + URLEncoder.encode(p.getProperty(k), "UTF-8"));
    }
  }
}
"""

TRICKY = {
    "plain.key": "a=b:c#d!e",
    "key with spaces=and:seps": "value",
    "lead": "  two leading spaces",
    "multi": "line1\nline2\ttab",
    "back\\slash": "C:\\path\\",
    "unicode": "caf\u00e9 \u2603 \U0001f600",
}


def test_xml_escaping_round_trips() -> None:
    props = {"a": "<b>&amp;\"quoted\" 'single'</b>", "unicode": "caf\u00e9 \u2603"}
    files = render_config_files(
        {
            Classification.SPARK_DEFAULTS: {},
            Classification.SPARK_ENV: {},
            Classification.SPARK_LOG4J2: {},
            Classification.CORE_SITE: props,
            Classification.HDFS_SITE: {},
        }
    )
    assert _site(files["core-site.xml"]) == props


def test_control_characters_in_xml_properties_are_a_resolve_error() -> None:
    spec = small_spec(configurations=[{"classification": "core-site", "properties": {"x": "bell\x07"}}])
    with pytest.raises(ResolveError) as err:
        resolve_spec(spec)
    assert err.value.field == "spec.configurations[core-site].properties[x]"


def test_spark_env_names_must_be_names() -> None:
    spec = small_spec(configurations=[{"classification": "spark-env", "properties": {"NOT-A-NAME": "1"}}])
    with pytest.raises(ResolveError, match="environment variable name"):
        resolve_spec(spec)


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK to read the file as Spark does")
def test_properties_escaping_round_trips_through_java_util_properties(tmp_path: Path) -> None:
    path = tmp_path / "spark-defaults.conf"
    path.write_text(render_properties("t", "spark-defaults", TRICKY), encoding="utf-8")
    reader = tmp_path / "Read.java"
    reader.write_text(JAVA_READER)
    out = subprocess.run(
        ["java", str(reader), str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    pairs = (line.split(" ") for line in out.stdout.splitlines())
    parsed = {urllib.parse.unquote_plus(k): urllib.parse.unquote_plus(v) for k, v in pairs}
    assert parsed == TRICKY


def test_spark_env_values_are_literal_for_bash(tmp_path: Path) -> None:
    values = {"A": 'it\'s $HOME `id` "q"', "B": "line1\nline2", "C": ""}
    path = tmp_path / "spark-env.sh"
    path.write_text(render_spark_env(values))
    script = f'. {path}; printf \'%s\\0\' "$A" "$B" "$C"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.split("\0")[:3] == [values["A"], values["B"], values["C"]]
