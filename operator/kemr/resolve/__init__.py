"""Resolve: an EMRCluster's spec and the operator's config in, every fact the builders need out. Pure.

resolved = resolve_cluster(name, namespace, uid, spec, config)   # raises ResolveError
children = build_children(resolved)                              # kemr.builders
"""

from kemr.resolve.cluster import resolve_cluster
from kemr.resolve.errors import ResolveError
from kemr.resolve.memo import Resolutions
from kemr.resolve.model import (
    ContainerSize,
    Endpoints,
    Placement,
    ResolvedCluster,
    ResolvedGroup,
    S3Settings,
    Storage,
)

__all__ = [
    "ContainerSize",
    "Endpoints",
    "Placement",
    "Resolutions",
    "ResolveError",
    "ResolvedCluster",
    "ResolvedGroup",
    "S3Settings",
    "Storage",
    "resolve_cluster",
]
