"""EMR ids of kemr objects, derived from `metadata.uid` so that objects created with kubectl have ids too.

| EMR id            | derived from                                  | example            |
|-------------------|-----------------------------------------------|--------------------|
| `j-XXXXXXXXXXXXX` | sha256(EMRCluster uid)                        | ClusterId          |
| `s-XXXXXXXXXXXXX` | sha256(EMRStep uid)                           | StepId             |
| `ig-XXXXXXXXXXXXX`| sha256(EMRCluster uid + "/" + group name)     | InstanceGroupId    |

Each is the prefix and the first 13 characters of the digest in base32 (RFC 4648, upper case, unpadded):
the shape of EMR's own ids. The API also labels the objects it creates with `EMR_ID_LABEL` so that they can
be found by id with a label selector; an object without the label still has its derived id.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, Final

EMR_ID_LABEL: Final = "kemr.io/emr-id"
"""Label the API sets on the EMRClusters and EMRSteps it creates: the object's EMR id."""

ID_LENGTH: Final = 13


def _digest_id(prefix: str, text: str) -> str:
    digest = base64.b32encode(hashlib.sha256(text.encode()).digest()).decode().rstrip("=")
    return f"{prefix}{digest[:ID_LENGTH].upper()}"


def cluster_id(uid: str) -> str:
    """The ClusterId (JobFlowId) of the EMRCluster with metadata.uid `uid`: `j-` + 13 base32 characters."""
    return _digest_id("j-", uid)


def step_id(uid: str) -> str:
    """The StepId of the EMRStep with metadata.uid `uid`: `s-` + 13 base32 characters."""
    return _digest_id("s-", uid)


def instance_group_id(cluster_uid: str, group_name: str) -> str:
    """The InstanceGroupId of the group `group_name` ("master" for the master) of the EMRCluster with
    metadata.uid `cluster_uid`: `ig-` + 13 base32 characters."""
    return _digest_id("ig-", f"{cluster_uid}/{group_name}")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def emr_cluster_id(obj: Mapping[str, Any]) -> str:
    """The ClusterId of an EMRCluster object, derived from metadata.uid. Its `kemr.io/emr-id` label is an
    index only, never trusted: a manifest copied with `kubectl get -o yaml` carries the label of another."""
    return cluster_id(_uid(obj))


def emr_step_id(obj: Mapping[str, Any]) -> str:
    """The StepId of an EMRStep object, derived from metadata.uid (its label: an index only)."""
    return step_id(_uid(obj))
