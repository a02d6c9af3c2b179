"""podOverrides, as KubeRay does it: the user's partial Pod is merged into the generated pod template, then
every field the operator owns is forced back to the generated value.

Merge rules (a simplified strategic merge patch):
- objects merge key by key; `null` removes a key;
- lists of named things merge item by item on their key: containers, initContainers, volumes, env,
  imagePullSecrets (by `name`), volumeMounts (by `mountPath`), ports (by `containerPort`),
  topologySpreadConstraints (by `topologyKey`); tolerations are added to the generated ones;
- any other list, and any scalar, is replaced.

Owned (forced back): the pod's labels the selectors use and the operator's annotations; serviceAccountName,
enableServiceLinks; in the operator's containers and init containers: name, image, command, args, ports,
resources, probes, the environment variables and volume mounts it sets; the volumes it mounts. Containers,
init containers, volumes, env and mounts the user adds are kept, after the operator's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

LIST_MERGE_KEYS: Final[Mapping[str, str]] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "topologySpreadConstraints": "topologyKey",
}
APPENDED_LISTS: Final = frozenset({"tolerations"})

OWNED_CONTAINER_FIELDS: Final = (
    "name",
    "image",
    "command",
    "args",
    "ports",
    "resources",
    "readinessProbe",
    "livenessProbe",
    "startupProbe",
)
# Pod spec fields the operator sets (or keeps unset): the generated value wins, absence included.
OWNED_POD_SPEC_FIELDS: Final = (
    "serviceAccountName",
    "serviceAccount",
    "enableServiceLinks",
    "hostname",
    "subdomain",
    "nodeName",
    "restartPolicy",
)
_KEPT_METADATA: Final = ("labels", "annotations")


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`patch` merged into `base` (see the module's rules), as a new object: neither input is changed; parts
    of `base` the patch doesn't touch are shared, not copied."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = _merge_list(key, out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_list(field: str, base: list[Any], patch: list[Any]) -> list[Any]:
    if field in APPENDED_LISTS:
        return base + [copy.deepcopy(item) for item in patch if item not in base]
    key = LIST_MERGE_KEYS.get(field)
    if key is None or not all(isinstance(item, Mapping) and key in item for item in [*base, *patch]):
        return copy.deepcopy(patch)
    out = list(base)
    index = {item[key]: i for i, item in enumerate(out)}
    for item in patch:
        if item[key] in index:
            out[index[item[key]]] = merge(out[index[item[key]]], item)
        else:
            index[item[key]] = len(out)
            out.append(copy.deepcopy(item))
    return out


def apply_pod_overrides(
    template: Mapping[str, Any], overrides: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The generated pod template with the overrides merged in (in order), owned fields forced back."""
    if not overrides:  # the common case: no copy of the template to merge into (profiled, bench/README.md)
        return force_owned(template, template)
    merged: dict[str, Any] = copy.deepcopy(dict(template))
    for override in overrides:
        merged = merge(merged, override)
    return force_owned(merged, template)


def force_owned(merged: Mapping[str, Any], generated: Mapping[str, Any]) -> dict[str, Any]:
    """`merged` with every field the operator owns set back to `generated`'s."""
    metadata = _force_metadata(merged.get("metadata") or {}, generated.get("metadata") or {})
    spec = dict(merged.get("spec") or {})
    gen_spec = generated.get("spec") or {}
    for field in OWNED_POD_SPEC_FIELDS:
        _copy_field(spec, gen_spec, field)
    for field in ("containers", "initContainers"):
        forced = _force_containers(spec.get(field) or [], gen_spec.get(field) or [])
        if forced:
            spec[field] = forced
        else:
            spec.pop(field, None)
    spec["volumes"] = _force_named(spec.get("volumes") or [], gen_spec.get("volumes") or [], "name")
    return {"metadata": metadata, "spec": spec}


def _copy_field(target: dict[str, Any], source: Mapping[str, Any], field: str) -> None:
    if field in source:
        target[field] = source[field]
    else:
        target.pop(field, None)


def _force_metadata(merged: Mapping[str, Any], generated: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in _KEPT_METADATA:
        values = {**(merged.get(field) or {}), **(generated.get(field) or {})}
        if values:
            out[field] = values
    return out


def _force_named(merged: Sequence[Any], generated: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    """The generated items (as generated), then the user's items that don't collide with them."""
    taken = {item[key] for item in generated}
    extra = [item for item in merged if not (isinstance(item, Mapping) and item.get(key) in taken)]
    return [dict(item) for item in generated] + extra


def _force_containers(
    merged: Sequence[Mapping[str, Any]], generated: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    by_name = {c.get("name"): c for c in merged if isinstance(c, Mapping)}
    out = [_force_container(by_name.get(gen["name"], {}), gen) for gen in generated]
    names = {gen["name"] for gen in generated}
    out += [dict(c) for c in merged if isinstance(c, Mapping) and c.get("name") not in names]
    return out


def _force_container(merged: Mapping[str, Any], generated: Mapping[str, Any]) -> dict[str, Any]:
    container = dict(merged)
    for field in OWNED_CONTAINER_FIELDS:
        _copy_field(container, generated, field)
    container["env"] = _force_named(merged.get("env") or [], generated.get("env") or [], "name")
    mounts = _force_named(merged.get("volumeMounts") or [], generated.get("volumeMounts") or [], "mountPath")
    # A user mount of an operator volume elsewhere is fine; the operator's mount paths are not negotiable.
    container["volumeMounts"] = mounts
    for field in ("env", "volumeMounts"):
        if not container[field]:
            del container[field]
    # Keep the generated field order, user additions after, so the output reads like the generated one.
    order = list(generated) + [k for k in container if k not in generated]
    return {k: container[k] for k in order if k in container}
