"""Text files of the ConfigMaps, rendered with jinja2: StrictUndefined, and escaping right for each format.

- `*.xml`: XML-escaped (autoescape; characters XML 1.0 can't hold are refused by resolving);
- `*.properties` / `spark-defaults.conf`: java.util.Properties escaping (what Spark and log4j load them with);
- `spark-env.sh` and the scripts: values single-quoted for the shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jinja2

from kemr.api import Classification
from kemr.api.constants import SPARK_APPLICATION_ID_PATTERN, SPARK_APPLICATION_ID_PREFIX
from kemr.applications import APPLICATIONS, CONFIG_FILES
from kemr.applications.base import ConfigFile
from kemr.resolve import layout
from kemr.resolve.layers import LayersView
from kemr.steptypes import SPARK_PROGRAMS

TEMPLATES = Path(__file__).parent / "templates"
# Each application's own templates: kemr/applications/<app>/templates (their names are unique across them).
APPLICATION_TEMPLATES = sorted((Path(__file__).parent.parent / "applications").glob("*/templates"))
_PROPERTIES_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}

# Rendered configuration files kept (a few KiB each): several files per group, a few groups per cluster.
RENDER_CACHE_SIZE = 2048


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
        loader=jinja2.FileSystemLoader([TEMPLATES, *APPLICATION_TEMPLATES]),
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
    edit = f"Edit the EMRCluster's spec.configurations ({classification.value})"
    return render("hadoop-site.xml.j2", edit=edit, properties=_sorted(properties))


def render_hadoop_site_text(edit: str, properties: Mapping[str, str]) -> str:
    """A Hadoop-style XML configuration file (core-site.xml, metastore-site.xml) of `properties`, its header
    comment saying what to `edit` instead of the file."""
    return render("hadoop-site.xml.j2", edit=edit, properties=_sorted(properties))


def render_spark_env(properties: Mapping[str, str]) -> str:
    return render("spark-env.sh.j2", properties=_sorted(properties))


def render_config_file(file: ConfigFile, configuration: LayersView) -> str:
    """One configuration file an application declared, in its format. Memoized on the file and its
    classification's properties: a reconcile renders each group's files for its ConfigMap and again for its
    pods' config hash, and every reconcile of an unchanged cluster renders the same (profiled: rendering
    was ~60% of a no-op cluster reconcile's CPU, bench/README.md)."""
    if file.format == "template" or file.classification is None:
        return _render_config_file(file, ())
    properties = configuration.get(file.classification, {})
    return _render_config_file(file, tuple(sorted(properties.items())))


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def _render_config_file(file: ConfigFile, properties: tuple[tuple[str, str], ...]) -> str:
    if file.format == "template" or file.classification is None:
        return render(file.template)
    values = dict(properties)
    if file.format == "hadoop-xml":
        return render_hadoop_site(file.classification, values)
    if file.format == "spark-env":
        return render_spark_env(values)
    return render_properties(file.header, file.classification.value, values)


def render_config_files(
    configuration: LayersView, files: Sequence[ConfigFile] = CONFIG_FILES
) -> dict[str, str]:
    """A group's (or the drivers') configuration files: ConfigMap key → text, the applications' files in
    registry order (kemr.applications)."""
    return {file.key: render_config_file(file, configuration) for file in files}


@cache
def _scripts() -> tuple[tuple[str, str], ...]:
    return tuple(_render_scripts().items())


def render_scripts() -> dict[str, str]:
    """The entrypoints, bootstrap runner and readiness probe: ConfigMap key → text (rendered once)."""
    return dict(_scripts())


def _render_scripts() -> dict[str, str]:
    """The entrypoints, bootstrap runner and readiness probe: ConfigMap key → text. The same for every
    cluster (they change only with the operator's version): every registered application's scripts, so a
    cluster's scripts don't depend on its applications."""
    dirs = {"scripts_dir": layout.SCRIPTS_DIR}
    modules = APPLICATIONS.values()
    return {
        "common.sh": render(
            "common.sh.j2",
            local_dir=layout.LOCAL_DIR,
            local_home=layout.LOCAL_HOME,
            hadoop_log_dir=layout.HADOOP_LOG_DIR,
            spark_log_dir=layout.SPARK_LOG_DIR,
        ),
        **{
            script.key: render(script.template, **dirs, **script.context)
            for m in modules
            for script in m.scripts
        },
        "bootstrap.sh": render("bootstrap.sh.j2", **dirs),
        "submit.sh": render(
            "submit.sh.j2",
            **dirs,
            spark_programs=SPARK_PROGRAMS,
            application_id_prefix=SPARK_APPLICATION_ID_PREFIX,
            application_id_pattern=SPARK_APPLICATION_ID_PATTERN,
        ),
        "probe.py": _render_probe(),
    }


def _render_probe() -> str:
    """One readiness probe for every daemon of every application: each application's checks (functions
    named after its daemons), and the table naming them."""
    modules = APPLICATIONS.values()
    daemons = {d.name: d for m in modules for ds in m.daemons.values() for d in ds}
    checks = ", ".join(f'"{name}": {name.replace("-", "_")}' for name in daemons)
    functions = [render(m.probe_checks, **m.probe_context).rstrip("\n") for m in modules if m.probe_checks]
    return render(
        "probe.py.j2",
        check_docs="\n".join(d.readiness for d in daemons.values() if d.readiness),
        check_functions="\n\n\n".join(functions),
        checks="{" + checks + "}",
    )
