"""A notebook's status, pure: Jupyter's kernels summarised, the cluster's idle rule's view of a notebook, and
the API refusing a spec with no (or two) ways to log in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kemr.api.common import Condition, ConditionStatus
from kemr.api.crd import build_notebook_crd
from kemr.api.notebook import EMRNotebookSpec, EMRNotebookStatus, NotebookKernels, NotebookState
from kemr.status.notebook import KernelsReport, notebook_activity, summarize_kernels, with_fresh_kernels

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _status(state: NotebookState, busy: int | None = 0, idle_for: float | None = None) -> EMRNotebookStatus:
    return EMRNotebookStatus(
        state=state,
        kernels=NotebookKernels(total=max(busy or 0, 1), busy=busy) if busy is not None else None,
        last_activity=NOW - timedelta(seconds=idle_for) if idle_for is not None else None,
    )


@pytest.mark.parametrize(
    ("statuses", "busy", "idle_for"),
    [
        ([_status(NotebookState.READY, busy=1, idle_for=3600)], True, 3600),  # a cell running for an hour
        ([_status(NotebookState.READY, busy=0, idle_for=60)], False, 60),  # a cell ran a minute ago
        ([_status(NotebookState.READY, busy=0)], False, None),  # no kernel ever active
        ([_status(NotebookState.READY, busy=None)], False, None),  # password auth: unknown is nothing
        ([_status(NotebookState.STARTING, busy=1, idle_for=0)], False, None),  # only READY notebooks count
        ([_status(NotebookState.STOPPED, busy=None, idle_for=0)], False, None),
        (
            [
                _status(NotebookState.READY, busy=0, idle_for=600),
                _status(NotebookState.READY, busy=0, idle_for=5),
            ],
            False,
            5,
        ),
        ([], False, None),
    ],
)
def test_a_clusters_notebooks_activity_is_what_its_idle_rule_counts(
    statuses: list[EMRNotebookStatus], busy: bool, idle_for: int | None
) -> None:
    last = None if idle_for is None else NOW - timedelta(seconds=idle_for)
    assert notebook_activity(statuses) == (busy, last)


def test_a_notebook_becoming_ready_is_activity() -> None:
    """Attaching is activity: a cluster idle since long before must not end while its new notebook's first
    kernel starts (seconds after READY, and up to a poll interval before the operator sees it)."""
    ready_at = NOW - timedelta(seconds=20)
    ready = Condition(
        type="Ready", status=ConditionStatus.TRUE, reason="Ready", last_transition_time=ready_at
    )
    status = _status(NotebookState.READY, busy=0, idle_for=600).model_copy(update={"conditions": [ready]})
    assert notebook_activity([status]) == (False, ready_at)


def test_kernels_read_just_before_an_idle_termination_count() -> None:
    old = NOW - timedelta(seconds=300)
    busy = KernelsReport(NotebookKernels(total=1, busy=1), NOW)
    failed = KernelsReport(error="GET http://10.0.0.9:8888/api/kernels: timeout")
    assert with_fresh_kernels(False, old, [busy]) == (True, NOW)
    assert with_fresh_kernels(False, old, [failed]) == (False, old)  # unknown adds nothing
    assert with_fresh_kernels(False, None, []) == (False, None)


def test_kernels_are_counted_from_jupyters_answer() -> None:
    report = summarize_kernels(
        [
            {"id": "a", "execution_state": "busy", "last_activity": "2026-11-30T11:58:00.123456Z"},
            {"id": "b", "execution_state": "idle", "last_activity": "2026-11-30T11:59:30.000000Z"},
            {"id": "c", "execution_state": "starting"},  # making its SparkSession: at work
            {"id": "d", "execution_state": "dead"},
        ]
    )
    assert report.kernels == NotebookKernels(total=4, busy=2)
    assert report.last_activity == datetime(2026, 11, 30, 11, 59, 30, tzinfo=UTC)
    assert summarize_kernels([]).kernels == NotebookKernels(total=0, busy=0)
    assert summarize_kernels([]).last_activity is None


@pytest.mark.parametrize("body", [{"message": "Forbidden"}, ["x"], [{"last_activity": "yesterday"}]])
def test_an_answer_of_another_shape_is_an_error(body: object) -> None:
    with pytest.raises(ValueError, match=r"expected|isoformat"):
        summarize_kernels(body)


BASE = {"clusterRef": {"name": "etl"}, "s3Location": "s3://team/nb/"}


@pytest.mark.parametrize(
    "auth",
    [{}, {"tokenSecretRef": {"name": "t"}, "passwordSecretRef": {"name": "p"}}],
    ids=["neither", "both"],
)
def test_exactly_one_way_to_log_in(auth: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=r"exactly one of spec\.auth\.tokenSecretRef"):
        EMRNotebookSpec.model_validate({**BASE, "auth": auth})


def test_the_defaults_and_the_crd_rule_users_see() -> None:
    spec = EMRNotebookSpec.model_validate({**BASE, "auth": {"tokenSecretRef": {"name": "t"}}})
    assert spec.auth.token_secret_ref is not None
    assert spec.auth.token_secret_ref.key == "token"
    assert (spec.resources.cpu, spec.resources.memory, spec.stop) == ("1", "2Gi", False)
    crd = build_notebook_crd()
    assert crd["spec"]["names"]["shortNames"] == ["emrnb"]
    version = crd["spec"]["versions"][0]
    assert [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c] == [
        "Cluster",
        "State",
        "Kernels",
        "Age",
    ]
    auth = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["auth"]
    assert (
        auth["x-kubernetes-validations"][0]["rule"]
        == "has(self.tokenSecretRef) != has(self.passwordSecretRef)"
    )
    with pytest.raises(ValidationError):
        EMRNotebookSpec.model_validate(
            {**BASE, "s3Location": "gs://x/", "auth": {"tokenSecretRef": {"name": "t"}}}
        )
