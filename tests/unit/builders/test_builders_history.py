"""The cluster's Spark History Server (kemr.builders.history): its exact manifests, pinned in a golden file,
and what they must and must not be."""

from __future__ import annotations

import shlex

import pytest
from golden_support import EXAMPLES, GOLDEN, dump, resolve_example, update_requested

from kemr.builders.history import (
    HISTORY_DEADLINE_SECONDS,
    build_history_network_policy,
    build_history_pod,
    history_options,
)

GOLDEN_FILE = GOLDEN / "history-full.yaml"


def test_history_server_matches_golden_file() -> None:
    resolved = resolve_example(EXAMPLES["full"])
    actual = (
        "# Golden: the history server of tests/unit/builders/examples/full.yaml. UPDATE_GOLDEN=1\n"
        + dump([build_history_network_policy(resolved), build_history_pod(resolved)])
    )
    if update_requested():
        GOLDEN_FILE.write_text(actual)
    assert actual == GOLDEN_FILE.read_text(), "review, then UPDATE_GOLDEN=1 uv run pytest tests/unit/builders"


def test_it_reads_the_clusters_event_logs_with_the_clusters_s3_settings() -> None:
    resolved = resolve_example(EXAMPLES["full"])
    assert resolved.event_log_dir
    options = dict(o.removeprefix("-D").split("=", 1) for o in shlex.split(history_options(resolved)))
    assert options["spark.history.fs.logDirectory"] == resolved.event_log_dir
    for key, value in resolved.s3.core_site.items():
        assert options[f"spark.hadoop.{key}"] == value
    # the core-site classification's S3A settings too (full.yaml sets fs.s3a.connection.maximum), not HDFS's
    assert options["spark.hadoop.fs.s3a.connection.maximum"] == "200"
    assert "spark.hadoop.fs.defaultFS" not in options
    env = {e["name"] for e in build_history_pod(resolved)["spec"]["containers"][0]["env"]}
    assert {e["name"] for e in resolved.s3.env} <= env


def test_it_is_bounded_and_runs_restricted() -> None:
    pod = build_history_pod(resolve_example(EXAMPLES["full"]))
    spec = pod["spec"]
    assert spec["activeDeadlineSeconds"] == HISTORY_DEADLINE_SECONDS
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    container = spec["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["limits"]["memory"] == container["resources"]["requests"]["memory"]


def test_its_network_policy_admits_no_connection() -> None:
    policy = build_history_network_policy(resolve_example(EXAMPLES["full"]))
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in policy["spec"]
    assert policy["spec"]["podSelector"]["matchLabels"]["kemr.io/role"] == "history"


def test_a_cluster_without_log_uri_has_no_history_to_serve() -> None:
    resolved = resolve_example(EXAMPLES["basic"])
    with pytest.raises(ValueError, match=r"spec\.logUri"):
        build_history_pod(resolved)
