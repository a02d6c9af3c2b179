"""EMR tags (`[{Key, Value}]`) on an EMRCluster.

| EMR                 | kemr                                                                       |
|---------------------|----------------------------------------------------------------------------|
| every tag           | annotation `kemr.io/emr-tags`: JSON object {Key: Value}, keys sorted         |
| a tag whose Key is  | also `metadata.labels[Key] = Value` (so `kubectl get -l` finds it); never |
| a valid label key   | under the kubernetes.io, k8s.io or kemr.io prefixes                        |
| and Value a valid   |                                                                            |
| label value         |                                                                            |

DescribeCluster's Tags come from the annotation only (labels set by other means are not tags).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from kemr.emrapi.errors import ValidationException
from kemr.emrapi.translate.common import ANNOTATION_TAGS, Json, get_objects, get_str, object_annotations

_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_RESERVED_PREFIXES: Final = ("kubernetes.io", "k8s.io", "kemr.io")
MAX_TAGS: Final = 50  # EMR's limit


def is_label(key: str, value: str) -> bool:
    """Whether the tag can also be a Kubernetes label: a valid qualified key outside the reserved
    prefixes, and a valid label value."""
    prefix, _, name = key.rpartition("/")
    if prefix:
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix):
            return False
        if any(prefix == p or prefix.endswith("." + p) for p in _RESERVED_PREFIXES):
            return False
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return False
    return value == "" or (len(value) <= 63 and bool(_LABEL_NAME.match(value)))


def parse_tags(request: Mapping[str, Any], key: str = "Tags", parent: str = "") -> dict[str, str]:
    """EMR's TagList `request[key]` as {Key: Value} (a missing Value is ""). ValidationException naming
    `Tags[i].Key` when a key is missing or empty."""
    tags: dict[str, str] = {}
    for field, tag in get_objects(request, key, parent):
        name = get_str(tag, "Key", field, required=True) or ""
        if not name:
            raise ValidationException(f"{field}.Key: must not be empty")
        tags[name] = get_str(tag, "Value", field) or ""
    if len(tags) > MAX_TAGS:
        raise ValidationException(f"{key}: at most {MAX_TAGS} tags")
    return tags


def tags_annotation(tags: Mapping[str, str]) -> str:
    """The `kemr.io/emr-tags` annotation's value."""
    return json.dumps(dict(sorted(tags.items())), separators=(",", ":"))


def tag_labels(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags that are also labels."""
    return {k: v for k, v in tags.items() if is_label(k, v)}


def object_tags(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's tags, from its `kemr.io/emr-tags` annotation ({} when absent or unreadable)."""
    raw = object_annotations(obj).get(ANNOTATION_TAGS)
    try:
        data = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def emr_tags(obj: Mapping[str, Any]) -> list[Json]:
    """DescribeCluster's Tags: [{Key, Value}] from the annotation."""
    return [{"Key": k, "Value": v} for k, v in sorted(object_tags(obj).items())]
