"""DataCatalog: resolving, the children (golden files), the status decision and the deletion guard. Pure."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kemr.api.catalog import CatalogState, DataCatalogSpec, DataCatalogStatus
from kemr.applications.hive import catalog_endpoint
from kemr.builders.catalog import build_catalog_children, build_database_secret
from kemr.config import OperatorConfig
from kemr.controllers.webhook import review
from kemr.resolve.catalog import resolve_catalog
from kemr.resolve.errors import ResolveError
from kemr.status.catalog import ObservedCatalog, decide_catalog, observe_catalog, schema_failure

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GOLDEN = HERE / "golden"
UID = "0c9a1f7e-2b3d-4e5f-8a9b-0123456789cd"
CONFIG = OperatorConfig()
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EXTERNAL = {
    "database": {
        "jdbcUrl": "jdbc:postgresql://metastore.example.rds.amazonaws.com:5432/hive",
        "credentialsSecretRef": {"name": "rds-hive"},
    },
    "warehouseDir": "s3://lake/warehouse/",
    "metastore": {"replicas": 2},
    "podOverrides": {"spec": {"nodeSelector": {"pool": "system"}}},
}
EXAMPLES: dict[str, dict[str, Any]] = {
    "in-cluster": yaml.safe_load((REPO / "manifests" / "examples" / "datacatalog.yaml").read_text())["spec"],
    "external": EXTERNAL,
}


def _resolve(spec: dict[str, Any], name: str = "analytics") -> Any:
    return resolve_catalog(name, "lake", UID, DataCatalogSpec.model_validate(spec), CONFIG)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_children_match_golden_file(example: str) -> None:
    path = GOLDEN / f"{example}.yaml"
    actual = yaml.safe_dump_all(build_catalog_children(_resolve(EXAMPLES[example])), sort_keys=False)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual)
    assert actual == path.read_text(), (
        f"{example}: review, then UPDATE_GOLDEN=1 uv run pytest tests/unit/catalog"
    )


def test_an_in_cluster_database_gets_a_statefulset_a_service_and_kept_credentials() -> None:
    resolved = _resolve({})
    kinds = [(o["kind"], o["metadata"]["name"]) for o in build_catalog_children(resolved)]
    assert kinds == [
        ("Service", "analytics-db"),
        ("StatefulSet", "analytics-db"),
        ("ConfigMap", "analytics-metastore"),
        ("Service", "analytics-metastore"),
        ("Deployment", "analytics-metastore"),
    ]
    assert resolved.database.jdbc_url == "jdbc:postgresql://analytics-db.lake.svc:5432/metastore"
    assert (
        resolved.endpoint
        == catalog_endpoint("analytics", "lake")
        == "thrift://analytics-metastore.lake.svc:9083"
    )
    secret = build_database_secret(resolved, "pw")
    assert "ownerReferences" not in secret["metadata"]  # kept with the volume when the catalog goes
    assert secret["stringData"] == {"username": "hive", "password": "pw"}
    sts = next(o for o in build_catalog_children(resolved) if o["kind"] == "StatefulSet")
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


def test_an_external_database_gets_no_statefulset_and_its_credentials_from_the_users_secret() -> None:
    resolved = _resolve(EXTERNAL)
    children = build_catalog_children(resolved)
    assert [o["kind"] for o in children] == ["ConfigMap", "Service", "Deployment"]
    deployment = children[-1]
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["initContainers"][0]["env"]}
    assert env["METASTORE_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "rds-hive",
        "key": "password",
    }
    site = children[0]["data"]["metastore-site.xml"]
    assert "jdbc:postgresql://metastore.example.rds.amazonaws.com:5432/hive" in site
    assert "<value>s3a://lake/warehouse/</value>" in site
    assert "<value>${env.METASTORE_DB_PASSWORD}</value>" in site  # from the Secret, never in the ConfigMap
    # podOverrides merge into the on-demand placement
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {
        "karpenter.sh/capacity-type": "on-demand",
        "pool": "system",
    }


def test_a_metastore_too_small_for_its_jvm_names_the_field_and_the_fix() -> None:
    with pytest.raises(ResolveError) as err:
        _resolve({"metastore": {"resources": {"memory": "384Mi"}}})
    assert err.value.field == "spec.metastore.resources.memory"
    assert "set at least 512Mi" in err.value.message


def test_the_schema_must_not_be_made_by_datanucleus() -> None:
    site = _resolve({}).metastore_site
    assert site["datanucleus.schema.autoCreateAll"] == "false"
    assert site["metastore.schema.verification"] == "true"


def _pod(role: str, ready: bool = False, **status: Any) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {
        "metadata": {"name": f"{role}-0", "labels": {"kemr.io/role": role}},
        "status": {"conditions": conditions, **status},
    }


UNREACHABLE: dict[str, Any] = {
    "initContainerStatuses": [
        {
            "name": "schema",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {
                "terminated": {
                    "exitCode": 1,
                    "message": "kemr: the database jdbc:postgresql://db:5432/hive did not answer within 60 s",
                }
            },
        }
    ]
}


def test_a_database_the_schema_tool_cannot_reach_is_said_in_its_words() -> None:
    observed = observe_catalog([_pod("metastore", **UNREACHABLE)], in_cluster_database=False, clusters=[])
    assert not observed.database_ready
    assert observed.database_problem is not None
    assert "did not answer within 60 s" in observed.database_problem
    decision = decide_catalog(
        DataCatalogStatus(),
        observed,
        endpoint="thrift://x:9083",
        database="jdbc:postgresql://db:5432/hive",
        deleting=False,
        apply_error=None,
        generation=1,
        now=NOW,
    )
    ready = next(c for c in decision.status.conditions if c.type == "Ready")
    assert (decision.status.state, ready.status, ready.reason) == (
        CatalogState.CREATING,
        "False",
        "DatabaseNotReady",
    )
    assert "did not answer within 60 s" in ready.message
    assert {c.type: c.status for c in decision.status.conditions}[
        "Reconciling"
    ] == "True"  # kstatus: InProgress


def test_a_pending_database_pod_says_why() -> None:
    pending = _pod("database")
    pending["status"]["conditions"].append(
        {
            "type": "PodScheduled",
            "status": "False",
            "message": "0/3 nodes are available: 3 Insufficient memory.",
        }
    )
    observed = observe_catalog([pending, _pod("metastore")], in_cluster_database=True, clusters=[])
    assert observed.database_problem == "not scheduled: 0/3 nodes are available: 3 Insufficient memory."


def _decide(previous: DataCatalogStatus, observed: ObservedCatalog, deleting: bool = False) -> Any:
    return decide_catalog(
        previous,
        observed,
        endpoint="thrift://analytics-metastore.lake.svc:9083",
        database="jdbc:postgresql://analytics-db.lake.svc:5432/metastore",
        deleting=deleting,
        apply_error=None,
        generation=1,
        now=NOW,
    )


def test_active_then_degraded_with_events() -> None:
    up = observe_catalog([_pod("database", True), _pod("metastore", True)], True, [])
    active = _decide(DataCatalogStatus(), up)
    assert active.status.state == CatalogState.ACTIVE
    assert active.status.ready_time == NOW
    assert [e.reason for e in active.events] == ["CatalogActive"]
    reconciling = {c.type: c.status for c in active.status.conditions}["Reconciling"]
    assert reconciling == "False"  # kstatus: Current
    down = observe_catalog([_pod("database", True), _pod("metastore")], True, [])
    degraded = _decide(active.status, down)
    assert degraded.status.state == CatalogState.DEGRADED
    assert [(e.type, e.reason) for e in degraded.events] == [("Warning", "CatalogDegraded")]


def test_deletion_waits_for_the_clusters_using_the_catalog_then_releases() -> None:
    used = observe_catalog([_pod("metastore", True)], False, ["b", "a"])
    waiting = _decide(DataCatalogStatus(), used, deleting=True)
    assert waiting.status.state == CatalogState.DELETING
    assert waiting.status.clusters == ["a", "b"]
    assert not waiting.release_finalizer
    assert "EMRClusters a, b still use this catalog" in next(
        c.message for c in waiting.status.conditions if c.type == "Ready"
    )
    free = _decide(waiting.status, observe_catalog([], False, []), deleting=True)
    assert free.release_finalizer


def test_schema_failure_reads_the_last_termination_too_until_it_got_through() -> None:
    assert schema_failure({"status": {}}) is None
    assert "exited with code 1" in (schema_failure(_pod("metastore", **UNREACHABLE)) or "")
    recovered = _pod("metastore", True, **UNREACHABLE)
    recovered["status"]["initContainerStatuses"][0]["state"] = {"terminated": {"exitCode": 0}}
    assert schema_failure(recovered) is None
    observed = observe_catalog([_pod("database", True), recovered], in_cluster_database=True, clusters=[])
    assert observed.database_ready


def _delete_request(name: str) -> dict[str, Any]:
    old = {"metadata": {"name": name, "namespace": "lake"}, "spec": {}}
    return {"uid": "u", "operation": "DELETE", "namespace": "lake", "object": None, "oldObject": old}


def test_the_webhook_refuses_deleting_a_catalog_in_use_naming_the_clusters() -> None:
    in_use = {("lake", "analytics"): ["etl-a", "etl-b"]}
    response = review(
        "DataCatalog", _delete_request("analytics"), CONFIG, lambda ns, n: in_use.get((ns, n), [])
    )
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert "used by EMRClusters etl-a, etl-b" in response["status"]["message"]
    assert review("DataCatalog", _delete_request("other"), CONFIG, lambda ns, n: [])["allowed"] is True
    # Other kinds' deletes are never reviewed.
    assert review("EMRCluster", _delete_request("analytics"), CONFIG, lambda ns, n: ["x"])["allowed"] is True


def test_the_webhook_refuses_a_catalog_the_operator_could_not_build() -> None:
    obj = {
        "metadata": {"name": "analytics", "namespace": "lake"},
        "spec": {"metastore": {"resources": {"memory": "300Mi"}}},
    }
    response = review("DataCatalog", {"uid": "u", "operation": "CREATE", "object": obj}, CONFIG)
    assert response["allowed"] is False
    assert "spec.metastore.resources.memory" in response["status"]["message"]


def test_a_refused_child_is_synced_false_with_an_event_once() -> None:
    observed = observe_catalog([], False, [])
    error = (
        "Forbidden",
        "applying Deployment lake-metastore: deployments.apps is forbidden: exceeded quota: pods",
    )
    first = decide_catalog(
        DataCatalogStatus(), observed, endpoint="e", database="d", deleting=False, apply_error=error,
        generation=1, now=NOW,
    )  # fmt: skip
    synced = next(c for c in first.status.conditions if c.type == "Synced")
    assert (synced.status, synced.reason) == ("False", "Forbidden")
    assert [e.reason for e in first.events if e.type == "Warning"] == ["ApplyFailed"]
    again = decide_catalog(
        first.status, observed, endpoint="e", database="d", deleting=False, apply_error=error,
        generation=1, now=NOW,
    )  # fmt: skip
    assert "ApplyFailed" not in [e.reason for e in again.events]
