"""Placement presets: master and core on on-demand capacity, task groups per capacityType."""

from __future__ import annotations

from typing import Any

import pytest
from golden_support import children_by_key, pod_spec, resolve_spec, small_spec

from kemr.config import OperatorConfig, PlacementPreset

SPEC = small_spec(
    taskGroups=[
        {"name": "spot", "capacityType": "spot", "maxReplicas": 2},
        {"name": "steady", "capacityType": "on-demand", "maxReplicas": 2},
    ]
)
WORKLOADS = {
    "master": ("StatefulSet", "sales-master"),
    "core": ("StatefulSet", "sales-core-core"),
    "spot": ("Deployment", "sales-task-spot"),
    "steady": ("Deployment", "sales-task-steady"),
}


def _placement(config: OperatorConfig, **kwargs: Any) -> dict[str, dict[str, Any]]:
    children = children_by_key(resolve_spec(SPEC, config, **kwargs))
    out = {}
    for group, key in WORKLOADS.items():
        spec = pod_spec(children[key])
        out[group] = {
            "nodeSelector": spec.get("nodeSelector"),
            "tolerations": spec.get("tolerations"),
            "affinity": spec.get("affinity"),
        }
    return out


def _preset(name: str) -> OperatorConfig:
    return OperatorConfig.model_validate({"placement": {"preset": name}})


def _required(key: str, operator: str, values: list[str]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": key, "operator": operator, "values": values}]}
                ]
            }
        }
    }


def _toleration(key: str, value: str) -> list[dict[str, str]]:
    return [{"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}]


EXPECTED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # preset: (on-demand placement, spot placement)
    "karpenter": (
        {"nodeSelector": {"karpenter.sh/capacity-type": "on-demand"}, "tolerations": None, "affinity": None},
        {
            "nodeSelector": {"karpenter.sh/capacity-type": "spot"},
            "tolerations": _toleration("karpenter.sh/capacity-type", "spot"),
            "affinity": None,
        },
    ),
    "gke": (
        {
            "nodeSelector": None,
            "tolerations": None,
            "affinity": _required("cloud.google.com/gke-spot", "NotIn", ["true"]),
        },
        {
            "nodeSelector": {"cloud.google.com/gke-spot": "true"},
            "tolerations": _toleration("cloud.google.com/gke-spot", "true"),
            "affinity": None,
        },
    ),
    "eks": (
        {
            "nodeSelector": {"eks.amazonaws.com/capacityType": "ON_DEMAND"},
            "tolerations": None,
            "affinity": None,
        },
        {"nodeSelector": {"eks.amazonaws.com/capacityType": "SPOT"}, "tolerations": None, "affinity": None},
    ),
    "aks": (
        {
            "nodeSelector": None,
            "tolerations": None,
            "affinity": _required("kubernetes.azure.com/scalesetpriority", "NotIn", ["spot"]),
        },
        {
            "nodeSelector": {"kubernetes.azure.com/scalesetpriority": "spot"},
            "tolerations": _toleration("kubernetes.azure.com/scalesetpriority", "spot"),
            "affinity": None,
        },
    ),
}


def test_every_preset_is_tested() -> None:
    assert set(EXPECTED) == {p.value for p in PlacementPreset} - {"custom"}


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_preset(preset: str) -> None:
    on_demand, spot = EXPECTED[preset]
    placement = _placement(_preset(preset))
    assert placement["master"] == on_demand
    assert placement["core"] == on_demand
    assert placement["steady"] == on_demand
    assert placement["spot"] == spot


def test_karpenter_is_the_default() -> None:
    assert _placement(OperatorConfig()) == _placement(_preset("karpenter"))


def test_custom_placement() -> None:
    config = OperatorConfig.model_validate(
        {
            "placement": {
                "preset": "custom",
                "onDemand": {"nodeSelector": {"pool": "regular"}},
                "spot": {
                    "nodeSelector": {"pool": "cheap"},
                    "tolerations": [{"key": "pool", "value": "cheap", "effect": "NoSchedule"}],
                    "preferredNodeAffinity": [
                        {
                            "weight": 50,
                            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}],
                        }
                    ],
                },
            }
        }
    )
    placement = _placement(config)
    assert placement["core"]["nodeSelector"] == {"pool": "regular"}
    assert placement["spot"]["nodeSelector"] == {"pool": "cheap"}
    assert placement["spot"]["tolerations"] == _toleration("pool", "cheap")
    assert placement["spot"]["affinity"] == {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 50,
                    "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                }
            ]
        }
    }


def test_custom_needs_both_capacity_types() -> None:
    with pytest.raises(ValueError, match="custom"):
        OperatorConfig.model_validate({"placement": {"preset": "custom", "spot": {}}})


def test_a_preset_can_have_one_side_replaced() -> None:
    config = OperatorConfig.model_validate(
        {"placement": {"preset": "eks", "spot": {"nodeSelector": {"x": "y"}}}}
    )
    placement = _placement(config)
    assert placement["spot"]["nodeSelector"] == {"x": "y"}
    assert placement["core"]["nodeSelector"] == {"eks.amazonaws.com/capacityType": "ON_DEMAND"}


def test_spot_fallback_moves_the_group_to_on_demand() -> None:
    placement = _placement(OperatorConfig(), spot_fallback_groups={"spot"})
    assert placement["spot"] == placement["steady"]
