"""Text files of the ConfigMaps, rendered with jinja2: StrictUndefined, and escaping right for each format.

- `*.xml`: XML-escaped (autoescape; characters XML 1.0 can't hold are refused by resolving);
- `*.properties` / `spark-defaults.conf`: java.util.Properties escaping (what Spark and log4j load them with);
- `spark-env.sh` and the scripts: values single-quoted for the shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from kemr.api import Classification
from kemr.resolve import layout
from kemr.resolve.layers import LayersView
from kemr.steptypes import SPARK_PROGRAMS

TEMPLATES = Path(__file__).parent / "templates"
EXCLUDE_REFRESH_SECONDS = 10  # how often the NameNode container looks at dfs.hosts.exclude
_PROPERTIES_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}


def _properties_escape(text: str, specials: str) -> str:
    out = []
    for char in text:
        if char in _PROPERTIES_ESCAPES:
            out.append(_PROPERTIES_ESCAPES[char])
        elif char in specials:
            out.append("\\" + char)
        elif not " " <= char <= "~":
            # Non-ASCII as \uXXXX (UTF-16 code units): right whatever charset the file is read with.
            encoded = char.encode("utf-16-be")
            out.extend(
                f"\\u{int.from_bytes(encoded[i : i + 2], 'big'):04x}" for i in range(0, len(encoded), 2)
            )
        else:
            out.append(char)
    return "".join(out)


def properties_key(key: str) -> str:
    """A java.util.Properties key: separators, comment marks and whitespace escaped."""
    return _properties_escape(key, " =:#!")


def properties_value(value: str) -> str:
    """A java.util.Properties value. After the key's separator, `=`, `:`, `#` and `!` are plain characters
    (Properties.load takes the rest of the line), so only backslashes, line breaks, non-ASCII and a leading
    space need escaping: the file stays readable."""
    escaped = _properties_escape(value, "")
    return "\\" + escaped if escaped.startswith(" ") else escaped


def shell_quote(value: object) -> str:
    return shlex.quote(str(value))


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """Render a template of templates/; XML ones are autoescaped."""
    env = _environment(template.endswith(".xml.j2"))
    env.filters.update(properties_key=properties_key, properties_value=properties_value, sh=shell_quote)
    return env.get_template(template).render(**context)


def _sorted(properties: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(properties.items())


def render_properties(header: str, classification: str, properties: Mapping[str, str]) -> str:
    return render(
        "properties.j2", header=header, classification=classification, properties=_sorted(properties)
    )


def render_hadoop_site(classification: Classification, properties: Mapping[str, str]) -> str:
    return render("hadoop-site.xml.j2", classification=classification.value, properties=_sorted(properties))


def render_spark_env(properties: Mapping[str, str]) -> str:
    return render("spark-env.sh.j2", properties=_sorted(properties))


def render_config_files(configuration: LayersView) -> dict[str, str]:
    """A group's (or the drivers') configuration files: ConfigMap key → text (see layout.CONFIG_FILES)."""
    return {
        "spark-defaults.conf": render_properties(
            "spark-defaults.conf",
            Classification.SPARK_DEFAULTS.value,
            configuration[Classification.SPARK_DEFAULTS],
        ),
        "spark-env.sh": render_spark_env(configuration[Classification.SPARK_ENV]),
        "log4j2.properties": render_properties(
            "log4j2.properties (Spark)",
            Classification.SPARK_LOG4J2.value,
            configuration[Classification.SPARK_LOG4J2],
        ),
        "core-site.xml": render_hadoop_site(
            Classification.CORE_SITE, configuration[Classification.CORE_SITE]
        ),
        "hdfs-site.xml": render_hadoop_site(
            Classification.HDFS_SITE, configuration[Classification.HDFS_SITE]
        ),
        "log4j.properties": render("hadoop-log4j.properties.j2"),
    }


@cache
def _scripts() -> tuple[tuple[str, str], ...]:
    return tuple(_render_scripts().items())


def render_scripts() -> dict[str, str]:
    """The entrypoints, bootstrap runner and readiness probe: ConfigMap key → text (rendered once)."""
    return dict(_scripts())


def _render_scripts() -> dict[str, str]:
    """The entrypoints, bootstrap runner and readiness probe: ConfigMap key → text. The same for every
    cluster (they change only with the operator's version)."""
    dirs = {"scripts_dir": layout.SCRIPTS_DIR}
    return {
        "common.sh": render(
            "common.sh.j2",
            local_dir=layout.LOCAL_DIR,
            local_home=layout.LOCAL_HOME,
            hadoop_log_dir=layout.HADOOP_LOG_DIR,
            spark_log_dir=layout.SPARK_LOG_DIR,
        ),
        "spark-master.sh": render(
            "spark-master.sh.j2",
            **dirs,
            recovery_dir=layout.SPARK_RECOVERY_DIR,
            port=layout.SPARK_MASTER_PORT,
            ui_port=layout.SPARK_MASTER_UI_PORT,
        ),
        "spark-worker.sh": render(
            "spark-worker.sh.j2", **dirs, port=layout.SPARK_WORKER_PORT, ui_port=layout.SPARK_WORKER_UI_PORT
        ),
        "spark-worker-stop.sh": render(
            "spark-worker-stop.sh.j2",
            wait_seconds=layout.WORKER_DECOMMISSION_SECONDS,
            ui_port=layout.SPARK_WORKER_UI_PORT,
        ),
        "namenode.sh": render(
            "namenode.sh.j2",
            **dirs,
            name_dir=layout.NAMENODE_DIR,
            marker=layout.NAMENODE_FORMATTED_MARKER,
            exclude_file=layout.HDFS_EXCLUDE_FILE,
            refresh_seconds=EXCLUDE_REFRESH_SECONDS,
        ),
        "datanode.sh": render("datanode.sh.j2", **dirs, data_dir=layout.DATANODE_DIR),
        "bootstrap.sh": render("bootstrap.sh.j2", **dirs),
        "submit.sh": render("submit.sh.j2", **dirs, spark_programs=SPARK_PROGRAMS),
        "probe.py": render(
            "probe.py.j2",
            spark_master_ui_port=layout.SPARK_MASTER_UI_PORT,
            spark_worker_ui_port=layout.SPARK_WORKER_UI_PORT,
            namenode_http_port=layout.NAMENODE_HTTP_PORT,
            datanode_http_port=layout.DATANODE_HTTP_PORT,
        ),
    }
