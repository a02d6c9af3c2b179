"""EMR Configurations (`[{Classification, Properties, Configurations}]`) ↔ kemr's `configurations`
(`[{classification, properties}]`, one entry per file).

| EMR Classification                 | kemr classification | notes                                         |
|------------------------------------|---------------------|-----------------------------------------------|
| spark-defaults, spark-log4j2,      | the same            | Properties as they are                        |
| core-site, hdfs-site, hive-site,   |                     |                                               |
| trino-config, trino-log,           |                     |                                               |
| trino-connector-hive/-tpch/-memory |                     |                                               |
| spark-env                          | spark-env           | the nested `export` classification's          |
|                                    |                     | Properties (EMR's environment variables) and  |
|                                    |                     | spark-env's own are merged                    |
| spark-hive-site                    | hive-site           | Spark's hive-site.xml is kemr's hive-site     |
| spark (maximizeResourceAllocation) | —                   | accepted and ignored: kemr sizes executors    |
|                                    |                     | from the workers' resources already           |
| anything else                      | —                   | ValidationException naming                    |
|                                    |                     | `Configurations[i].Classification`            |

Two EMR entries landing on the same file are merged in order (later properties win). Nested
Configurations other than spark-env's `export` are refused. Values must be strings, as in EMR.

Back to EMR (`emr_configurations`): one entry per kemr classification, spark-env with its properties as
the nested `export` classification, as EMR reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kemr.api.common import Classification
from kemr.emrapi.errors import ValidationException
from kemr.emrapi.translate.common import Json, get_list, get_object, get_objects, get_str, join

ALIASES: Final[Mapping[str, str]] = {"spark-hive-site": Classification.HIVE_SITE.value}
"""EMR classifications that are another name for one of kemr's files."""

IGNORED: Final[Mapping[str, frozenset[str]]] = {"spark": frozenset({"maximizeResourceAllocation"})}
"""EMR classifications accepted and ignored, with the only properties they may carry."""

_KNOWN = tuple(c.value for c in Classification)


def _properties(config: Mapping[str, Any], field: str) -> dict[str, str]:
    props = get_object(config, "Properties", field) or {}
    for key, value in props.items():
        if not isinstance(value, str):
            raise ValidationException(f"{join(field, 'Properties')}.{key}: expected a string")
    return dict(props)


def kemr_configurations(
    request: Mapping[str, Any], key: str = "Configurations", parent: str = ""
) -> list[Json]:
    """kemr's `configurations` from the EMR ConfigurationList `request[key]` ([] when absent).
    ValidationException naming e.g. `Configurations[2].Classification` for an unknown classification."""
    merged: dict[str, dict[str, str]] = {}
    for field, config in get_objects(request, key, parent):
        classification = get_str(config, "Classification", field, required=True) or ""
        properties = _properties(config, field)
        nested = get_objects(config, "Configurations", field)
        if classification in IGNORED:
            extra = sorted(set(properties) - IGNORED[classification])
            if extra or nested:
                raise ValidationException(
                    f"{field}: kemr supports only {sorted(IGNORED[classification])} in the"
                    f" {classification!r} classification (ignored); use spark-defaults for Spark properties"
                )
            continue
        target = ALIASES.get(classification, classification)
        if target not in _KNOWN:
            raise ValidationException(
                f"{join(field, 'Classification')}: unknown classification {classification!r};"
                f" known: {', '.join([*_KNOWN, *ALIASES])}"
            )
        for nested_field, inner in nested:
            inner_class = get_str(inner, "Classification", nested_field, required=True)
            if target != Classification.SPARK_ENV or inner_class != "export":
                raise ValidationException(
                    f"{join(nested_field, 'Classification')}: nested configurations are supported only as"
                    " spark-env's 'export'"
                )
            if get_list(inner, "Configurations", nested_field):
                raise ValidationException(f"{join(nested_field, 'Configurations')}: too deeply nested")
            properties.update(_properties(inner, nested_field))
        merged.setdefault(target, {}).update(properties)
    return [{"classification": name, "properties": props} for name, props in merged.items()]


def emr_configurations(configurations: Any) -> list[Json]:
    """EMR's ConfigurationList from kemr's `configurations` (as stored: camelCase): spark-env's properties
    as the nested `export` classification."""
    out: list[Json] = []
    for config in configurations if isinstance(configurations, list) else []:
        if not isinstance(config, dict):
            continue
        classification = str(config.get("classification", ""))
        properties = {str(k): str(v) for k, v in (config.get("properties") or {}).items()}
        if classification == Classification.SPARK_ENV:
            out.append(
                {
                    "Classification": classification,
                    "Properties": {},
                    "Configurations": [{"Classification": "export", "Properties": properties}],
                }
            )
        else:
            out.append({"Classification": classification, "Properties": properties})
    return out
