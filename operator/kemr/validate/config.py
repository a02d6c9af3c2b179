"""Checks of `configurations` and `podOverrides`, shared by the cluster and its groups."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from kemr.api.common import Classification, Configuration
from kemr.applications.base import OwnedKey
from kemr.validate.issues import ValidationIssue, key_path
from kemr.validate.owned import (
    CONFIGURATION_OWNED,
    OWNED_LABEL_PREFIXES,
    OWNED_LABELS,
    POD_OWNED_FIELDS,
    find_owned,
)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Files with one `key value` (spark-defaults.conf, log4j2.properties) or `export KEY=value` (spark-env.sh)
# per line: a newline in a value would start a new entry.
_LINE_FORMATS = frozenset(
    {Classification.SPARK_DEFAULTS, Classification.SPARK_ENV, Classification.SPARK_LOG4J2}
)


def check_properties(
    properties: Mapping[str, str], owned: tuple[OwnedKey, ...], field: str, *, line_format: bool
) -> Iterator[ValidationIssue]:
    """Owned keys, and keys or values the rendered file can't hold."""
    for key, value in properties.items():
        path = key_path(field, key)
        if not key or any(ch.isspace() for ch in key):
            yield ValidationIssue(path, "property names can't be empty or contain whitespace")
            continue
        if (hit := find_owned(owned, key)) is not None:
            yield ValidationIssue(path, f"{key} is set by the operator and can't be overridden: {hit.why}")
        if line_format and ("\n" in value or "\r" in value):
            yield ValidationIssue(
                path, "the value can't contain a line break: this file has one entry per line"
            )


def check_configurations(configurations: list[Configuration], field: str) -> Iterator[ValidationIssue]:
    """Every configuration of a cluster or group (`field` is the path of the list)."""
    for configuration in configurations:
        classification = configuration.classification
        base = f"{field}[{classification.value}].properties"
        yield from check_properties(
            configuration.properties,
            CONFIGURATION_OWNED.get(classification, ()),
            base,
            line_format=classification in _LINE_FORMATS,
        )
        if classification is Classification.SPARK_ENV:
            for name in configuration.properties:
                if name and not _ENV_NAME.match(name):
                    yield ValidationIssue(
                        key_path(base, name),
                        "spark-env properties are environment variables: letters, digits and '_',"
                        " not starting with a digit",
                    )


def check_pod_overrides(overrides: Mapping[str, Any] | None, field: str) -> Iterator[ValidationIssue]:
    """Fields of the generated pods the operator owns (`field` is the path of podOverrides)."""
    if not overrides:
        return
    for path, why in POD_OWNED_FIELDS.items():
        node: Any = overrides
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            yield ValidationIssue(f"{field}.{'.'.join(path)}", f"set by the operator: {why}")
    metadata = overrides.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    if isinstance(labels, Mapping):
        for label in labels:
            if label in OWNED_LABELS or label.startswith(OWNED_LABEL_PREFIXES):
                yield ValidationIssue(
                    key_path(f"{field}.metadata.labels", label),
                    "the operator sets this label on every pod (its selectors rely on it): use another label",
                )
    for section in ("metadata", "spec"):
        value = overrides.get(section)
        if value is not None and not isinstance(value, Mapping):
            yield ValidationIssue(f"{field}.{section}", "must be an object (podOverrides is a partial Pod)")
    unknown = sorted(set(overrides) - {"metadata", "spec"})
    if unknown:
        yield ValidationIssue(
            field,
            f"podOverrides is a partial Pod: only metadata and spec can be set, not {', '.join(unknown)}",
        )
