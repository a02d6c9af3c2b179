"""What pods say about why they aren't running (pure): the words the step and cluster statuses carry."""

from __future__ import annotations

from typing import Any

from kemr.observe import failed_bootstrap, why_not_running


def pod(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "etl-master-0"}, "status": status}


def test_unscheduled_in_the_schedulers_words() -> None:
    cond = {
        "type": "PodScheduled",
        "status": "False",
        "message": "0/13 nodes are available: 13 Insufficient cpu.",
    }
    assert (
        why_not_running(pod(conditions=[cond]))
        == "not scheduled: 0/13 nodes are available: 13 Insufficient cpu."
    )


def test_a_crash_loop_names_the_container_and_its_last_exit() -> None:
    status = {
        "name": "spark-master",
        "state": {
            "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}
        },
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }
    assert why_not_running(pod(containerStatuses=[status])) == (
        "container spark-master: CrashLoopBackOff: back-off 40s restarting failed container "
        "(last exit code 1, Error)"
    )


def test_starting_normally_is_no_problem() -> None:
    status = {"name": "spark-master", "state": {"waiting": {"reason": "ContainerCreating"}}}
    assert why_not_running(pod(containerStatuses=[status])) is None
    assert why_not_running(pod()) is None


def test_a_failed_bootstrap_action_now_or_before_a_restart() -> None:
    now = {"name": "bootstrap-deps", "state": {"terminated": {"exitCode": 2, "message": "pip: not found"}}}
    assert failed_bootstrap(pod(initContainerStatuses=[now])) == (
        "bootstrap action deps exited with code 2 in pod etl-master-0: pip: not found"
    )
    before = {
        "name": "bootstrap-deps",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }
    assert failed_bootstrap(pod(initContainerStatuses=[before])) == (
        "bootstrap action deps exited with code 1 in pod etl-master-0: Error"
    )
    ok = {"name": "bootstrap-deps", "state": {"terminated": {"exitCode": 0}}}
    other = {"name": "setup-dirs", "state": {"terminated": {"exitCode": 1}}}
    assert failed_bootstrap(pod(initContainerStatuses=[ok, other])) is None
