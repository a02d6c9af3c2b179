"""Metadata every child carries: name, namespace, labels, the owner reference to its EMRCluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kemr.resolve import ResolvedCluster


def object_meta(
    resolved: ResolvedCluster, name: str, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Metadata of a child named `name`; `labels` default to the cluster's."""
    return {
        "name": name,
        "namespace": resolved.namespace,
        "labels": dict(labels if labels is not None else resolved.labels),
        "ownerReferences": [dict(resolved.owner_reference)],
    }
