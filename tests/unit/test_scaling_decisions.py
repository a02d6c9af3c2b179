"""Managed scaling and spot fallback decisions (kemr.status.scaling): pure, no cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kemr import observe
from kemr.status import scaling as s

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
WORKER = s.Resources(4, 8192)  # what one worker offers executors
POLICY = s.ScalingPolicy(cooldown_seconds=60, stabilization_seconds=300)


def bounds(name: str = "spot", low: int = 0, high: int = 10) -> s.TaskGroupBounds:
    return s.TaskGroupBounds(name, low, high, WORKER)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def step(name: str, state: str | None, **conf: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"spark": {"conf": conf}},
        "status": {"state": state} if state else {},
    }


# --- demand ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conf", "cores", "memory"),
    [
        ({"spark.cores.max": "16"}, 16, 4 * 8192),
        ({"spark.executor.instances": "3", "spark.executor.cores": "2"}, 6, 3 * 8192),
        ({"spark.cores.max": "8", "spark.executor.cores": "2", "spark.executor.memory": "1g"}, 8, 4 * 1024),
        ({}, 4, 8192),  # no hint: one worker's worth
        ({"spark.cores.max": "nonsense"}, 4, 8192),
        # dynamic allocation: as many executors as Spark may ask for
        (
            {"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.maxExecutors": "5"},
            20,
            5 * 8192,
        ),
        (
            {"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.initialExecutors": "2"},
            8,
            2 * 8192,
        ),
        ({"spark.dynamicAllocation.enabled": "true"}, 4, 8192),  # unbounded, no start: one worker's worth
    ],
)
def test_a_steps_demand_comes_from_its_spark_properties(
    conf: dict[str, str], cores: int, memory: int
) -> None:
    assert s.step_demand(conf, WORKER) == s.Resources(cores, memory)


@pytest.mark.parametrize(
    ("value", "mib"),
    [("4g", 4096), ("512m", 512), ("1024", 1024), ("2G", 2048), ("1t", 1024**2), ("x", None)],
)
def test_spark_memory_strings(value: str, mib: int | None) -> None:
    assert s.spark_memory_mib(value) == mib


def test_demand_counts_running_steps_and_the_pending_ones_that_may_start() -> None:
    steps = [
        step("a", "RUNNING", **{"spark.cores.max": "8"}),
        step("b", "PENDING", **{"spark.cores.max": "8"}),
        step("c", "PENDING", **{"spark.cores.max": "8"}),  # beyond stepConcurrency: can't run alongside
        step("d", "COMPLETED", **{"spark.cores.max": "100"}),
    ]
    demand, count = s.steps_demand(steps, {"b"}, WORKER)
    assert (demand.cores, count) == (16, 2)


def test_only_a_spark_steps_conf_is_its_demand() -> None:
    """A Spark SQL or command step sets no Spark properties of its own: one worker's worth."""
    conf = {"spark.cores.max": "16"}
    assert s.step_conf({"spec": {"spark": {"mainApplicationFile": "/a.py", "conf": conf}}}) == conf
    assert s.step_conf({"spec": {"sparkSql": {"query": "SELECT 1"}}}) == {}
    assert s.step_conf({"spec": {"command": {"args": ["true"]}}}) == {}
    assert s.step_conf({"spec": {}}) == {}


def test_the_spark_masters_report_adds_a_worker_per_waiting_application() -> None:
    report = s.parse_master_report(
        {
            "cores": 8,
            "coresused": 8,
            "memory": 16384,
            "memoryused": 16384,
            "activeapps": [{"state": "WAITING"}],
        }
    )
    assert s.master_demand(report, WORKER) == s.Resources(12, 16384 + 8192)


# --- targets ---------------------------------------------------------------------------------------------


def test_demand_beyond_the_core_workers_becomes_task_workers() -> None:
    core = WORKER.times(2)  # 8 cores
    assert s.task_targets(s.Resources(24, 0), core, [bounds()]) == {"spot": 4}
    assert s.task_targets(s.Resources(8, 0), core, [bounds()]) == {"spot": 0}


def test_targets_stay_within_min_and_max_and_overflow_into_the_next_group() -> None:
    groups = [bounds("a", 1, 2), bounds("b", 0, 3)]
    assert s.task_targets(s.Resources(0, 0), s.Resources(), groups) == {"a": 1, "b": 0}
    assert s.task_targets(s.Resources(16, 0), s.Resources(), groups) == {"a": 2, "b": 2}
    assert s.task_targets(s.Resources(400, 0), s.Resources(), groups) == {"a": 2, "b": 3}


def test_memory_can_be_what_asks_for_more_workers() -> None:
    assert s.task_targets(s.Resources(4, 4 * 8192), s.Resources(), [bounds()]) == {"spot": 4}


# --- cooldown, stabilization, bounds ---------------------------------------------------------------------


def test_scale_up_is_immediate_and_recorded() -> None:
    decision = s.decide_group(s.GroupScalingState(1), 4, bounds(), POLICY, NOW, "demand")
    assert decision.changed
    assert (decision.state.desired, decision.state.reason, decision.state.last_scale_time) == (
        4,
        "ScaleUp",
        NOW,
    )


def test_no_scale_up_during_cooldown_but_a_recheck_when_it_ends() -> None:
    previous = s.GroupScalingState(2, last_scale_time=ago(20), reason="ScaleUp")
    decision = s.decide_group(previous, 5, bounds(), POLICY, NOW, "demand")
    assert not decision.changed
    assert (decision.state.desired, decision.state.reason) == (2, "Cooldown")
    assert decision.recheck_after == pytest.approx(40)


def test_scale_down_waits_for_the_stabilization_window() -> None:
    previous = s.GroupScalingState(4, last_scale_time=ago(600), reason="ScaleUp")
    first = s.decide_group(previous, 0, bounds(), POLICY, NOW, "idle")
    assert (first.state.desired, first.state.reason, first.state.scale_down_since) == (4, "Stabilizing", NOW)
    assert first.recheck_after == pytest.approx(300)
    later = s.decide_group(first.state, 0, bounds(), POLICY, NOW + timedelta(seconds=300), "idle")
    assert later.changed
    assert (later.state.desired, later.state.reason, later.state.scale_down_since) == (0, "ScaleDown", None)


def test_demand_coming_back_during_stabilization_cancels_the_scale_down() -> None:
    previous = s.GroupScalingState(
        4, last_scale_time=ago(600), scale_down_since=ago(200), reason="Stabilizing"
    )
    decision = s.decide_group(previous, 4, bounds(), POLICY, NOW, "busy")
    assert (decision.state.desired, decision.state.scale_down_since, decision.changed) == (4, None, False)


def test_scale_down_also_waits_for_cooldown() -> None:
    previous = s.GroupScalingState(
        4, last_scale_time=ago(10), scale_down_since=ago(400), reason="Stabilizing"
    )
    decision = s.decide_group(previous, 0, bounds(), POLICY, NOW, "idle")
    assert not decision.changed
    assert decision.recheck_after == pytest.approx(50)


def test_desired_follows_the_specs_bounds_at_once() -> None:
    previous = s.GroupScalingState(8, last_scale_time=ago(1), reason="ScaleUp")
    decision = s.decide_group(previous, 8, bounds(high=5), POLICY, NOW, "demand")
    assert decision.changed
    assert (decision.state.desired, decision.state.reason) == (5, "Bounds")
    raised = s.decide_group(s.GroupScalingState(0), 0, bounds(low=2), POLICY, NOW, "idle")
    assert raised.state.desired == 2


# --- spot fallback ---------------------------------------------------------------------------------------


def test_fallback_covers_the_pods_unschedulable_for_long_enough() -> None:
    count, due = s.fallback_replicas([ago(400), ago(301), ago(100)], 300, desired=5, now=NOW)
    assert count == 2
    assert due == pytest.approx(200)


def test_fallback_is_never_more_than_the_groups_size() -> None:
    assert s.fallback_replicas([ago(999)] * 4, 60, desired=3, now=NOW) == (3, None)


def test_no_unschedulable_pods_no_fallback() -> None:
    assert s.fallback_replicas([], 60, desired=3, now=NOW) == (0, None)


def pending_pod(since: str | None, reason: str = "Unschedulable", phase: str = "Pending") -> dict[str, Any]:
    conditions = [{"type": "PodScheduled", "status": "False", "reason": reason, "lastTransitionTime": since}]
    return {"metadata": {"name": "p"}, "status": {"phase": phase, "conditions": conditions}}


def test_unschedulable_since_reads_the_pods_scheduled_condition() -> None:
    assert observe.unschedulable_since(pending_pod("2026-11-22T07:59:00Z")) == ago(60)
    assert observe.unschedulable_since(pending_pod("2026-11-22T07:59:00Z", reason="SchedulingGated")) is None
    assert observe.unschedulable_since(pending_pod("2026-11-22T07:59:00Z", phase="Running")) is None


def group_input(**fields: Any) -> s.TaskGroupInput:
    values: dict[str, Any] = {
        "bounds": bounds(low=1),
        "initial": 1,
        "spot_fallback_after": 60,
        "previous": None,
        **fields,
    }
    return s.TaskGroupInput(**values)


def test_the_plan_falls_back_and_returns_with_events() -> None:
    stuck = group_input(unschedulable=(ago(90),))
    fell = s.plan_task_groups(
        [stuck],
        managed=None,
        demand=s.Resources(),
        core_capacity=s.Resources(),
        why="",
        previous_fallback={},
        now=NOW,
    )
    assert fell.fallback == {"spot": 1}
    assert [e.reason for e in fell.events] == ["SpotFallback"]
    back = s.plan_task_groups(
        [group_input()],
        managed=None,
        demand=s.Resources(),
        core_capacity=s.Resources(),
        why="",
        previous_fallback={"spot": 1},
        now=NOW,
    )
    assert back.fallback == {}
    assert [e.reason for e in back.events] == ["SpotRestored"]


def test_the_plan_scales_from_demand_and_says_when_to_look_again() -> None:
    plan = s.plan_task_groups(
        [group_input(bounds=bounds(low=0, high=3), initial=0, spot_fallback_after=None)],
        managed=POLICY,
        demand=s.Resources(40, 0),
        core_capacity=WORKER,
        why="3 steps",
        previous_fallback={},
        now=NOW,
    )
    assert plan.replicas == {"spot": 3}  # 9 workers' worth asked, max is 3
    assert [e.reason for e in plan.events] == ["ScaleUp"]


# --- scale-in order --------------------------------------------------------------------------------------


def test_busy_workers_cost_more_to_delete() -> None:
    used = s.workers_cores_used(
        {
            "workers": [
                {"host": "10.0.0.1", "state": "ALIVE", "coresused": 4},
                {"host": "10.0.0.2", "state": "DEAD"},
            ]
        }
    )
    assert s.deletion_costs({"a": "10.0.0.1", "b": "10.0.0.2"}, used) == {"a": "4", "b": "0"}
