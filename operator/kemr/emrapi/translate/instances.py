"""EC2 instance types as pod sizes: an EMR InstanceType becomes a group's `resources` (CPU and memory per
pod), and a group's resources are reported back as the instance type they match.

The table is the chart's `emrApi.instanceTypes` (`parse_instance_types` reads it); `DEFAULT_INSTANCE_TYPES`
when unset. A pod of a type asks for what EMR gives YARN on that instance: the memory of EMR's
`yarn.nodemanager.resource.memory-mb` for the type (EMR's "task configuration" tables), and the vCPUs less
half a core, so that one pod fits on a Kubernetes node of that type beside the kubelet and its daemons.

| InstanceType | vCPUs, memory | cpu   | memory |
|--------------|---------------|-------|--------|
| m5.large     | 2, 8 GiB      | 1500m | 6Gi    |
| m5.xlarge    | 4, 16 GiB     | 3500m | 12Gi   |
| m5.2xlarge   | 8, 32 GiB     | 7500m | 24Gi   |
| m5.4xlarge   | 16, 64 GiB    | 15500m| 56Gi   |
| m6g.xlarge   | 4, 16 GiB     | 3500m | 12Gi   |
| m6g.2xlarge  | 8, 32 GiB     | 7500m | 24Gi   |
| m7g.xlarge   | 4, 16 GiB     | 3500m | 12Gi   |
| m7g.2xlarge  | 8, 32 GiB     | 7500m | 24Gi   |
| r5.xlarge    | 4, 32 GiB     | 3500m | 24Gi   |
| r5.2xlarge   | 8, 64 GiB     | 7500m | 56Gi   |
| r5.4xlarge   | 16, 128 GiB   | 15500m| 120Gi  |
| c5.xlarge    | 4, 8 GiB      | 3500m | 6Gi    |
| c5.2xlarge   | 8, 16 GiB     | 7500m | 12Gi   |

Reverse lookup (`instance_type_for`) compares quantities by value (`4` = `4000m`, `16Gi` = `16384Mi`); several
types of the same size (m5/m6g/m7g) report the first in the table unless the cluster recorded the type it
was created with. Resources matching no entry report `kemr.custom`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import yaml

from kemr.api.quantity import parse_quantity
from kemr.emrapi.errors import ValidationException
from kemr.emrapi.translate.common import Json

InstanceTypes = Mapping[str, tuple[str, str]]
"""Instance type name → (cpu quantity, memory quantity) of a pod of that type."""

CUSTOM_INSTANCE_TYPE: Final = "kemr.custom"
"""The InstanceType reported for a group whose resources match no entry of the table."""

DEFAULT_INSTANCE_TYPES: Final[InstanceTypes] = {
    "m5.large": ("1500m", "6Gi"),
    "m5.xlarge": ("3500m", "12Gi"),
    "m5.2xlarge": ("7500m", "24Gi"),
    "m5.4xlarge": ("15500m", "56Gi"),
    "m6g.xlarge": ("3500m", "12Gi"),
    "m6g.2xlarge": ("7500m", "24Gi"),
    "m7g.xlarge": ("3500m", "12Gi"),
    "m7g.2xlarge": ("7500m", "24Gi"),
    "r5.xlarge": ("3500m", "24Gi"),
    "r5.2xlarge": ("7500m", "56Gi"),
    "r5.4xlarge": ("15500m", "120Gi"),
    "c5.xlarge": ("3500m", "6Gi"),
    "c5.2xlarge": ("7500m", "12Gi"),
}


def _quantity(value: Any, where: str) -> str:
    text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise ValueError(f"{where}: expected a Kubernetes quantity, got {type(value).__name__}")
    try:
        if parse_quantity(text) <= 0:
            raise ValueError(f"{where}: {text!r} must be positive")
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err
    return text


def parse_instance_types(source: str | Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """The instance-type table from the chart's `emrApi.instanceTypes`: YAML text or an already parsed
    mapping of `{<type>: {cpu: "4", memory: 16Gi}}` (a `[cpu, memory]` pair is accepted too). ValueError
    naming the entry when an entry is malformed."""
    data = yaml.safe_load(source) if isinstance(source, str) else source
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError("instanceTypes: expected a mapping of instance type to {cpu, memory}")
    table: dict[str, tuple[str, str]] = {}
    for name, entry in data.items():
        where = f"instanceTypes.{name}"
        if isinstance(entry, Mapping):
            cpu, memory = entry.get("cpu"), entry.get("memory")
        elif isinstance(entry, list | tuple) and len(entry) == 2:
            cpu, memory = entry
        else:
            raise ValueError(f"{where}: expected {{cpu, memory}}")
        table[str(name)] = (_quantity(cpu, f"{where}.cpu"), _quantity(memory, f"{where}.memory"))
    return table


def resources_for(instance_types: InstanceTypes, instance_type: str, field: str) -> Json:
    """The `resources` ({cpu, memory}) of a pod of `instance_type`. ValidationException naming `field`
    (e.g. `Instances.InstanceGroups[1].InstanceType`) when the table has no such type."""
    entry = instance_types.get(instance_type)
    if entry is None:
        known = ", ".join(sorted(instance_types)) or "none"
        raise ValidationException(
            f"{field}: unknown instance type {instance_type!r}; known: {known}"
            " (the table is the chart's emrApi.instanceTypes)"
        )
    cpu, memory = entry
    return {"cpu": cpu, "memory": memory}


def _same_quantity(a: str, b: str) -> bool:
    try:
        return parse_quantity(a) == parse_quantity(b)
    except ValueError:
        return False


def matches(instance_types: InstanceTypes, instance_type: str, resources: Mapping[str, Any]) -> bool:
    """Whether `resources` ({cpu, memory}) are exactly those of `instance_type` in the table."""
    entry = instance_types.get(instance_type)
    if entry is None:
        return False
    cpu, memory = str(resources.get("cpu", "")), str(resources.get("memory", ""))
    return _same_quantity(cpu, entry[0]) and _same_quantity(memory, entry[1])


def instance_type_for(
    instance_types: InstanceTypes, resources: Mapping[str, Any], preferred: str | None = None
) -> str:
    """The instance type whose size `resources` ({cpu, memory}) are: `preferred` (the type the group was
    created with) while it still matches, else the first matching entry of the table, else `kemr.custom`."""
    if preferred is not None and matches(instance_types, preferred, resources):
        return preferred
    for name in instance_types:
        if matches(instance_types, name, resources):
            return name
    return CUSTOM_INSTANCE_TYPE


def cpu_units(instance_types: InstanceTypes, instance_type: str) -> int:
    """Whole vCPUs of `instance_type` (at least 1): its weight in managed scaling's VCPU units."""
    entry = instance_types.get(instance_type)
    if entry is None:
        return 1
    return max(1, int(parse_quantity(entry[0])))
