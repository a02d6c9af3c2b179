"""Safe core scale-in (kemr.status.decommission): DataNodes leave before their pods, volumes after. Pure."""

from __future__ import annotations

import json
from typing import Any

from kemr.status import decommission as d

STS = "sales-core-core"


def pod(ordinal: int, ip: str | None = None, *, released: bool = False, started: bool = True) -> d.CorePod:
    return d.CorePod(f"{STS}-{ordinal}", ordinal, ip or f"10.0.0.{ordinal}", started, released)


def test_growing_or_steady_needs_no_namenode() -> None:
    plan = d.plan_core_scale_in(STS, 3, 2, [pod(0), pod(1)], None, [], [])
    assert (plan.statefulset_replicas, plan.excluded_ips, plan.reason) == (3, (), None)


def test_shrinking_excludes_the_leaving_datanodes_and_holds_the_size_until_decommissioned() -> None:
    pods = [pod(0), pod(1), pod(2), pod(3)]
    states = {"10.0.0.2": "Decommission In Progress", "10.0.0.3": "Decommissioned"}
    plan = d.plan_core_scale_in(STS, 2, 4, pods, states, [], [])
    assert plan.statefulset_replicas == 4  # nothing removed yet
    assert plan.excluded_ips == ("10.0.0.2", "10.0.0.3")
    assert plan.decommissioning == (f"{STS}-2", f"{STS}-3")
    assert plan.reason == d.REASON_DECOMMISSIONING
    assert "Decommission In Progress" in (plan.message or "")


def test_once_every_leaving_datanode_is_decommissioned_the_statefulset_shrinks() -> None:
    states = {"10.0.0.2": "Decommissioned"}
    plan = d.plan_core_scale_in(STS, 2, 3, [pod(0), pod(1), pod(2)], states, [], [])
    assert (plan.statefulset_replicas, plan.reason) == (2, d.REASON_DECOMMISSIONED)
    assert plan.claims_to_delete == ()  # the pod is still there: its volume stays


def test_an_unreachable_namenode_means_wait_with_a_message_naming_the_way_out() -> None:
    plan = d.plan_core_scale_in(STS, 1, 2, [pod(0), pod(1)], None, [], [], "http://nn:9870")
    assert (plan.statefulset_replicas, plan.reason) == (2, d.REASON_WAITING)
    assert "http://nn:9870" in (plan.message or "")
    assert d.DECOMMISSIONED_ANNOTATION in (plan.message or "")


def test_a_pod_released_by_annotation_or_that_never_ran_does_not_hold_the_scale_in() -> None:
    pods = [pod(0), pod(1, released=True), pod(2, started=False)]
    plan = d.plan_core_scale_in(STS, 1, 3, pods, None, [], [])
    assert (plan.statefulset_replicas, plan.reason) == (1, d.REASON_DECOMMISSIONED)


def test_volumes_of_decommissioned_pods_go_only_after_the_pods() -> None:
    leaving = [f"{STS}-1"]
    claims = [f"data-{STS}-0", f"data-{STS}-1"]
    still_there = d.plan_core_scale_in(STS, 1, 1, [pod(0), pod(1)], None, claims, leaving)
    assert still_there.claims_to_delete == ()
    assert still_there.excluded_ips == ("10.0.0.1",)  # still excluded while it terminates
    gone = d.plan_core_scale_in(STS, 1, 1, [pod(0)], None, claims, leaving)
    assert gone.claims_to_delete == (f"data-{STS}-1",)
    assert gone.excluded_ips == ()
    done = d.plan_core_scale_in(STS, 1, 1, [pod(0)], None, [f"data-{STS}-0"], leaving)
    assert done.decommissioning == ()


def test_volumes_of_pods_that_were_not_decommissioned_are_never_deleted() -> None:
    plan = d.plan_core_scale_in(STS, 1, 1, [pod(0)], None, [f"data-{STS}-0", f"data-{STS}-1"], [])
    assert plan.claims_to_delete == ()


def test_scaling_back_up_mid_decommission_returns_the_datanodes() -> None:
    plan = d.plan_core_scale_in(STS, 2, 2, [pod(0), pod(1)], None, [], [f"{STS}-1"])
    assert (plan.statefulset_replicas, plan.excluded_ips, plan.decommissioning) == (2, (), ())


def test_namenode_jmx_admin_states() -> None:
    live = {"dn-a:9866": {"xferaddr": "10.0.0.2:9866", "adminState": "Decommission In Progress"}}
    dead = {"dn-b:9866": {"xferaddr": "10.0.0.3:9866", "decommissioned": True}}
    body: dict[str, Any] = {"beans": [{"LiveNodes": json.dumps(live), "DeadNodes": json.dumps(dead)}]}
    assert d.namenode_admin_states(body) == {
        "10.0.0.2": "Decommission In Progress",
        "10.0.0.3": "Decommissioned",
    }


def test_core_pod_from_a_pod_object() -> None:
    obj = {
        "metadata": {"name": f"{STS}-4", "annotations": {d.DECOMMISSIONED_ANNOTATION: "true"}},
        "status": {"podIP": "10.1.1.1", "startTime": "2026-11-22T07:00:00Z"},
    }
    assert d.core_pod(obj) == d.CorePod(f"{STS}-4", 4, "10.1.1.1", True, True)


def test_exclude_file_is_stable() -> None:
    assert d.exclude_file(["10.0.0.3", "10.0.0.1", "10.0.0.3"]) == "10.0.0.1\n10.0.0.3\n"


def test_an_operator_outside_the_cluster_asks_the_namenode_through_the_apiservers_service_proxy() -> None:
    url = "http://demo-master.team-a.svc:9870"
    assert (
        d.service_proxy_path(url, "/jmx") == "/api/v1/namespaces/team-a/services/demo-master:9870/proxy/jmx"
    )
    assert d.service_proxy_path("http://10.0.0.1:9870", "/jmx") is None
    assert d.service_proxy_path("http://demo-master.team-a.svc", "/jmx") is None


def _sts(group: str, replicas: int, role: str = "core", deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": f"sales-core-{group}",
        "labels": {"kemr.io/role": role, "kemr.io/group": group},
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-11-30T00:00:00Z"
    return {"kind": "StatefulSet", "metadata": meta, "spec": {"replicas": replicas}}


def test_a_core_group_gone_from_the_spec_is_departing_until_its_statefulset_is_gone() -> None:
    workloads = [
        _sts("core", 2),
        _sts("old", 3),
        _sts("spot", 2, role="task"),
        _sts("gone", 0, deleting=True),
    ]
    assert d.departing_core_groups(["core"], workloads) == [d.DepartingGroup("old", "sales-core-old", 3)]
    assert d.departing_core_groups(["core", "old"], workloads) == []


def test_a_departing_group_scales_in_to_zero_through_the_decommission_then_is_done() -> None:
    group = d.DepartingGroup("old", "sales-core-old", 2)
    pods = [d.CorePod(f"sales-core-old-{i}", i, f"10.0.1.{i}", True, False) for i in (0, 1)]
    held = d.plan_core_scale_in(group.statefulset, 0, group.replicas, pods, None, [], [])
    assert held.statefulset_replicas == 2
    assert held.reason == d.REASON_WAITING
    assert not d.departure_done(group, held)
    status = d.departing_status(group, held, ready=2)
    assert status.message
    assert status.message.startswith("removed from spec.coreGroups: waiting to decommission")
    assert status.decommissioning == ["sales-core-old-0", "sales-core-old-1"]

    states = {"10.0.1.0": d.DECOMMISSIONED, "10.0.1.1": d.DECOMMISSIONED}
    out = d.plan_core_scale_in(group.statefulset, 0, 2, pods, states, [], [])
    assert out.statefulset_replicas == 0
    assert not d.departure_done(group, out)

    at_zero = d.DepartingGroup("old", "sales-core-old", 0)
    claims = ["data-sales-core-old-0", "data-sales-core-old-1"]
    leaving = ["sales-core-old-0", "sales-core-old-1"]
    volumes = d.plan_core_scale_in(at_zero.statefulset, 0, 0, [], None, claims, leaving)
    assert volumes.claims_to_delete == tuple(claims)
    assert not d.departure_done(at_zero, volumes)
    done = d.plan_core_scale_in(at_zero.statefulset, 0, 0, [], None, [], leaving)
    assert d.departure_done(at_zero, done)


def test_a_pod_recreated_after_its_node_died_keeps_its_volumes_blocks() -> None:
    """Pending, no startTime, but its volume is bound: an earlier pod of that name may have written blocks."""
    pending = {"metadata": {"name": f"{STS}-2"}, "status": {"phase": "Pending"}}
    never_ran = d.core_pod(pending)
    recreated = d.core_pod(pending, bound_claims=[f"data-{STS}-2"])
    assert never_ran is not None
    assert recreated is not None
    assert not never_ran.started
    assert recreated.started
    plan = d.plan_core_scale_in(STS, 2, 3, [pod(0), pod(1), recreated], None, [], [])
    assert plan.reason == d.REASON_WAITING  # not "never started, holds nothing"
    assert plan.statefulset_replicas == 3
