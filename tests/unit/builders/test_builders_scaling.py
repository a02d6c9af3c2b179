"""What scaling decisions become as children: on-demand stand-ins of a spot group, core groups held while
their DataNodes decommission, the NameNode's exclude list, workers that decommission on the way out."""

from __future__ import annotations

from golden_support import children_by_key, pod_spec, resolve_spec, small_spec

from kemr.api import Classification
from kemr.config import OperatorConfig


def test_a_spot_shortfall_runs_in_an_on_demand_deployment_that_never_claims_the_spot_pods() -> None:
    kids = children_by_key(resolve_spec(small_spec(), on_demand_fallback={"spot": 2}))
    spot, stand_in = kids[("Deployment", "sales-task-spot")], kids[("Deployment", "sales-task-spot-od")]
    assert stand_in["spec"]["replicas"] == 2
    assert spot["spec"]["replicas"] == 1  # the spot group keeps its size: its pending pods wait for spot
    on_demand = OperatorConfig().placement.for_on_demand().node_selector
    assert pod_spec(stand_in).get("nodeSelector") == dict(on_demand)
    assert pod_spec(stand_in).get("tolerations") != pod_spec(spot)["tolerations"]  # no spot toleration
    selector = stand_in["spec"]["selector"]["matchLabels"]
    assert selector["kemr.io/fallback"] == "on-demand"
    assert "kemr.io/fallback" not in spot["spec"]["template"]["metadata"]["labels"]
    # Same configuration: the stand-ins mount the spot group's ConfigMap.
    assert pod_spec(stand_in)["volumes"] == pod_spec(spot)["volumes"]


def test_no_shortfall_no_stand_in() -> None:
    kids = children_by_key(resolve_spec(small_spec(), on_demand_fallback={"spot": 0}))
    assert ("Deployment", "sales-task-spot-od") not in kids


def test_a_core_group_is_held_at_its_size_and_its_leaving_datanodes_excluded() -> None:
    resolved = resolve_spec(
        small_spec(coreGroups=[{"name": "core", "replicas": 2}]),
        core_replicas={"core": 3},
        decommissioning=["10.0.0.9", "10.0.0.8"],
    )
    kids = children_by_key(resolved)
    assert kids[("StatefulSet", "sales-core-core")]["spec"]["replicas"] == 3
    assert kids[("ConfigMap", "sales-hdfs-exclude")]["data"] == {"dfs.exclude": "10.0.0.8\n10.0.0.9\n"}
    assert (
        resolved.client_configuration[Classification.HDFS_SITE]["dfs.replication"] == "2"
    )  # follows the spec, not the size held meanwhile
    master = pod_spec(kids[("StatefulSet", "sales-master")])
    namenode = next(c for c in master["containers"] if c["name"] == "namenode")
    assert {"name": "hdfs-exclude", "mountPath": "/etc/kemr/hdfs-exclude", "readOnly": True} in namenode[
        "volumeMounts"
    ]


def test_workers_decommission_before_they_stop() -> None:
    kids = children_by_key(resolve_spec(small_spec()))
    for key in (("Deployment", "sales-task-spot"), ("StatefulSet", "sales-core-core")):
        spec = pod_spec(kids[key])
        worker = next(c for c in spec["containers"] if c["name"] == "spark-worker")
        assert worker["lifecycle"]["preStop"]["exec"]["command"][-1].endswith("spark-worker-stop.sh")
        assert spec["terminationGracePeriodSeconds"] > 120
