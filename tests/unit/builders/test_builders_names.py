"""Child names: derived from the cluster and group names, DNS-safe and within Kubernetes' length limits."""

from __future__ import annotations

import re

import pytest
from golden_support import resolve_spec, small_spec

from kemr.api import EMRClusterSpec
from kemr.api import constants as c
from kemr.builders import build_children
from kemr.config import OperatorConfig
from kemr.resolve import ResolveError, resolve_cluster

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LONGEST_CLUSTER = "c" * c.MAX_CLUSTER_NAME_LENGTH
LONGEST_GROUP = "g" * c.MAX_GROUP_NAME_LENGTH


def _longest_spec() -> EMRClusterSpec:
    return small_spec(
        coreGroups=[{"name": LONGEST_GROUP, "replicas": 1}],
        taskGroups=[{"name": "t" * c.MAX_GROUP_NAME_LENGTH, "maxReplicas": 1}],
        bootstrapActions=[{"name": "b" * 40, "script": "/opt/x.sh"}],
    )


def test_names_follow_the_scheme() -> None:
    resolved = resolve_spec(small_spec())
    names = {(o["kind"], o["metadata"]["name"]) for o in build_children(resolved)}
    assert names == {
        ("ServiceAccount", "sales-sa"),
        ("NetworkPolicy", "sales"),
        ("ConfigMap", "sales-scripts"),
        ("ConfigMap", "sales-client-config"),
        ("ConfigMap", "sales-hdfs-exclude"),
        ("ConfigMap", "sales-master-config"),
        ("ConfigMap", "sales-core-core-config"),
        ("ConfigMap", "sales-task-spot-config"),
        ("Service", "sales-master"),
        ("Service", "sales-master-headless"),
        ("Service", "sales-core-core"),
        ("PodDisruptionBudget", "sales-master"),
        ("PodDisruptionBudget", "sales-core-core"),
        ("StatefulSet", "sales-master"),
        ("StatefulSet", "sales-core-core"),
        ("Deployment", "sales-task-spot"),
    }
    assert resolved.endpoints.master == "spark://sales-master.analytics.svc:7077"
    assert resolved.endpoints.web_ui == "http://sales-master.analytics.svc:8080"
    assert resolved.endpoints.urls["hdfs"] == "hdfs://sales-master.analytics.svc:8020"


def test_the_longest_names_the_api_allows_fit() -> None:
    resolved = resolve_cluster(LONGEST_CLUSTER, "ns", "uid", _longest_spec(), OperatorConfig())
    for child in build_children(resolved):
        name = child["metadata"]["name"]
        assert DNS_1123_LABEL.match(name), name
        assert len(name) <= 63, name
        if child["kind"] in ("StatefulSet", "Deployment"):
            assert len(name) <= 52, name  # pod labels <name>-<10-char hash> stay <= 63
            template = child["spec"]["template"]
            for container in [*template["spec"].get("initContainers", []), *template["spec"]["containers"]]:
                assert len(container["name"]) <= 63
            for value in template["metadata"]["labels"].values():
                assert len(value) <= 63


def test_a_too_long_cluster_name_is_a_resolve_error() -> None:
    with pytest.raises(ResolveError) as err:
        resolve_cluster(LONGEST_CLUSTER + "x", "ns", "uid", small_spec(), OperatorConfig())
    assert err.value.field == "metadata.name"


def test_a_cluster_name_must_start_with_a_letter() -> None:
    with pytest.raises(ResolveError, match="DNS-1035"):
        resolve_cluster("1abc", "ns", "uid", small_spec(), OperatorConfig())


def test_a_too_long_group_name_is_a_resolve_error_naming_the_group() -> None:
    # The schema caps group names; a spec that got past it (an older CRD) still can't build a bad name.
    spec = small_spec()
    long_group = spec.core_groups[0].model_copy(update={"name": "g" * (c.MAX_GROUP_NAME_LENGTH + 1)})
    spec = spec.model_copy(update={"core_groups": [long_group]})
    with pytest.raises(ResolveError) as err:
        resolve_cluster(LONGEST_CLUSTER, "ns", "uid", spec, OperatorConfig())
    assert err.value.field == f"spec.coreGroups[{long_group.name}].name"


def test_duplicate_group_names_are_a_resolve_error() -> None:
    spec = small_spec(taskGroups=[{"name": "core", "maxReplicas": 1}])
    with pytest.raises(ResolveError, match="used twice"):
        resolve_spec(spec)


def test_labels_select_each_group_apart() -> None:
    resolved = resolve_spec(small_spec())
    selectors = [dict(g.selector_labels) for g in resolved.groups]
    assert len({tuple(sorted(s.items())) for s in selectors}) == len(selectors)
    for group in resolved.groups:
        assert group.labels[c.LABEL_CLUSTER] == "sales"
        assert group.labels[c.LABEL_ROLE] == group.role
        assert group.labels[c.LABEL_GROUP] == group.name
        assert group.labels[c.LABEL_MANAGED_BY] == c.MANAGED_BY
        assert dict(group.selector_labels).items() <= dict(group.labels).items()
