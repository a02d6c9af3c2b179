"""The apiserver refuses core groups smaller than HDFS's replication factor (issue 8): a DataNode
decommission could never finish and blocks would lose replicas. Real apiserver, CRDs only (no operator)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.kube import Kube

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ns(crds: Kube) -> Iterator[str]:
    name = f"api-scaling-{secrets.token_hex(4)}"
    crds.run("create", "namespace", name)
    yield name
    crds.run("delete", "namespace", name, "--wait=false", check=False)


def _cluster(core_replicas: list[int], replication: str | None) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((REPO / "manifests/examples/emrcluster-basic.yaml").read_text())
    obj["spec"]["coreGroups"] = [
        {"name": f"core{i}", "replicas": n, "resources": {"cpu": "1", "memory": "2Gi"}}
        for i, n in enumerate(core_replicas)
    ]
    if replication is not None:
        obj["spec"]["configurations"] = [
            {"classification": "hdfs-site", "properties": {"dfs.replication": replication}}
        ]
    return obj


def _apply(kube: Kube, ns: str, obj: dict[str, Any]) -> tuple[int, str]:
    proc = kube.apply(obj, namespace=ns, check=False)
    return proc.returncode, proc.stderr


def test_core_groups_below_the_replication_factor_are_rejected_naming_the_fix(crds: Kube, ns: str) -> None:
    code, err = _apply(crds, ns, _cluster([2], "3"))
    assert code != 0
    assert "spec.coreGroups" in err
    assert "dfs.replication" in err
    assert "keep the sum of spec.coreGroups[].replicas at least dfs.replication" in err


def test_scaling_a_core_group_below_the_replication_factor_is_rejected(crds: Kube, ns: str) -> None:
    assert _apply(crds, ns, _cluster([2, 1], "3"))[0] == 0  # 3 core nodes over two groups
    code, err = _apply(crds, ns, _cluster([1, 1], "3"))
    assert code != 0
    assert "dfs.replication" in err
    assert _apply(crds, ns, _cluster([1, 1], "2"))[0] == 0  # lowering the replication factor is the way


def test_the_default_replication_follows_the_core_nodes(crds: Kube, ns: str) -> None:
    # Without dfs.replication, kemr writes files at min(3, core nodes): any size is accepted.
    assert _apply(crds, ns, _cluster([1], None))[0] == 0
