"""Helpers shared by the translation modules: reading request fields with their EMR names, slugs for
Kubernetes names, timestamps as the JSON 1.1 protocol sends them, and the annotations the API writes.

Request fields are read with `get_*` helpers that check the JSON type (botocore validates client-side,
other clients may not) and name the field as EMR spells it, e.g. `Instances.InstanceGroups[1].InstanceCount`,
in the ValidationException.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from kemr.emrapi.errors import ValidationException

Json = dict[str, Any]
"""A JSON object: an EMR request or response shape, or a Kubernetes manifest."""

# Annotations the API writes on the objects it creates, read back by the describe functions.
ANNOTATION_NAME: Final = "kemr.io/emr-name"
"""The EMR Name (RunJobFlow's Name, StepConfig's Name), which need not be a valid Kubernetes name."""
ANNOTATION_TAGS: Final = "kemr.io/emr-tags"
"""The cluster's EMR tags, a JSON object {Key: Value}, keys sorted."""
ANNOTATION_RELEASE_LABEL: Final = "kemr.io/emr-release-label"
"""The ReleaseLabel RunJobFlow was called with (emr-7.1.0); spec.release holds the kemr release."""
ANNOTATION_INSTANCE_TYPES: Final = "kemr.io/emr-instance-types"
"""The instance type requested per group, a JSON object {groupName: instanceType} ("master" included):
reported while the group's resources still match the type."""
ANNOTATION_STEP_CONFIG: Final = "kemr.io/emr-step-config"
"""The HadoopJarStep AddJobFlowSteps/RunJobFlow was called with, as JSON: DescribeStep's Config."""

API_VERSION: Final = "kemr.io/v1alpha1"


def join(parent: str, key: str) -> str:
    """The field path `parent.key` (just `key` at the top of a request)."""
    return f"{parent}.{key}" if parent else key


def _type_error(field: str, expected: str, value: Any) -> ValidationException:
    return ValidationException(f"{field}: expected {expected}, got {type(value).__name__}")


def get_str(obj: Mapping[str, Any], key: str, parent: str = "", *, required: bool = False) -> str | None:
    """`obj[key]` as a string; None when absent (ValidationException when required)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise ValidationException(f"{join(parent, key)}: required")
        return None
    if not isinstance(value, str):
        raise _type_error(join(parent, key), "a string", value)
    return value


def get_int(obj: Mapping[str, Any], key: str, parent: str = "", *, required: bool = False) -> int | None:
    """`obj[key]` as an integer (not a boolean); None when absent (ValidationException when required)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise ValidationException(f"{join(parent, key)}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(join(parent, key), "an integer", value)
    return value


def get_bool(obj: Mapping[str, Any], key: str, parent: str = "") -> bool | None:
    """`obj[key]` as a boolean; None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _type_error(join(parent, key), "a boolean", value)
    return value


def get_object(obj: Mapping[str, Any], key: str, parent: str = "", *, required: bool = False) -> Json | None:
    """`obj[key]` as a JSON object; None when absent (ValidationException when required)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise ValidationException(f"{join(parent, key)}: required")
        return None
    if not isinstance(value, dict):
        raise _type_error(join(parent, key), "an object", value)
    return value


def get_list(obj: Mapping[str, Any], key: str, parent: str = "") -> list[Any]:
    """`obj[key]` as a list; [] when absent."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(join(parent, key), "a list", value)
    return value


def get_objects(obj: Mapping[str, Any], key: str, parent: str = "") -> list[tuple[str, Json]]:
    """`obj[key]` as a list of JSON objects, each with its field path (`parent.key[i]`); [] when absent."""
    out: list[tuple[str, Json]] = []
    for index, item in enumerate(get_list(obj, key, parent)):
        field = f"{join(parent, key)}[{index}]"
        if not isinstance(item, dict):
            raise _type_error(field, "an object", item)
        out.append((field, item))
    return out


def get_strings(obj: Mapping[str, Any], key: str, parent: str = "") -> list[str]:
    """`obj[key]` as a list of strings; [] when absent."""
    values = get_list(obj, key, parent)
    for index, item in enumerate(values):
        if not isinstance(item, str):
            raise _type_error(f"{join(parent, key)}[{index}]", "a string", item)
    return list(values)


_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]+")


def slug(text: str, max_length: int, *, fallback: str, dns_1035: bool = False) -> str:
    """`text` as a DNS-1123 label of at most `max_length` characters (lower case, runs of other characters
    as one `-`), or `fallback` when nothing is left. With `dns_1035` it also starts with a letter (`fallback`
    and `-` are put in front of a leading digit)."""
    name = _NOT_NAME_CHARS.sub("-", text.lower()).strip("-")
    if dns_1035 and name and not name[0].isalpha():
        name = f"{fallback}-{name}"
    name = name[:max_length].rstrip("-")
    return name or fallback[:max_length]


def epoch(value: Any) -> float | None:
    """A Kubernetes timestamp (RFC 3339, `2026-01-02T03:04:05Z`) as epoch seconds, as the JSON 1.1 protocol
    sends EMR's timestamps; None when unset or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def metadata(obj: Mapping[str, Any]) -> Json:
    """The object's metadata ({} when missing)."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def object_annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's annotations ({} when none)."""
    value = metadata(obj).get("annotations")
    return value if isinstance(value, dict) else {}


def section(obj: Mapping[str, Any], *path: str) -> Json:
    """`obj[path[0]][path[1]]...` when every step is an object, else {} (for spec and status fields, which
    may be missing on objects the operator has not seen yet)."""
    current: Any = obj
    for key in path:
        current = current.get(key) if isinstance(current, dict) else None
    return current if isinstance(current, dict) else {}


def display_name(obj: Mapping[str, Any]) -> str:
    """The EMR Name of an object: its `kemr.io/emr-name` annotation, else metadata.name."""
    name = object_annotations(obj).get(ANNOTATION_NAME)
    return name if isinstance(name, str) and name else str(metadata(obj).get("name", ""))


def s3_uri(uri: str) -> str:
    """EMR's legacy `s3n://` scheme as `s3://` (both are S3 on EMR; kemr reads s3:// through S3A)."""
    return "s3://" + uri[len("s3n://") :] if uri.startswith("s3n://") else uri
