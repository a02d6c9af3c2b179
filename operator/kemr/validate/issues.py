"""A problem in a spec that the CRD schema can't catch, naming the field and the fix."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationIssue:
    """`field` is a path into the object, e.g. `spec.coreGroups[core].configurations[spark-defaults]
    .properties["spark.master"]` (list items keyed by name are shown by name); `message` says what is wrong
    and how to fix it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def key_path(base: str, key: str) -> str:
    """`base["key"]`, for map keys that contain dots."""
    return f"{base}[{json.dumps(key)}]"
