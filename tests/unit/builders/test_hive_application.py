"""Hive (kemr.applications.hive): with spec.catalog the cluster runs no metastore of its own and every Spark
process uses its DataCatalog's; without, the master runs one; the keys that point Spark at it are owned."""

from __future__ import annotations

from golden_support import resolve_spec, small_spec

from kemr.api import Classification, EMRClusterSpec
from kemr.builders import build_children
from kemr.validate import validate_cluster


def _hive(**fields: object) -> EMRClusterSpec:
    return small_spec(applications=["Spark", "HDFS", "Hive"], **fields)


def _master_containers(spec: EMRClusterSpec) -> tuple[list[str], list[str]]:
    children = build_children(resolve_spec(spec))
    master = next(
        o for o in children if o["kind"] == "StatefulSet" and o["metadata"]["name"].endswith("-master")
    )
    pod = master["spec"]["template"]["spec"]
    return [c["name"] for c in pod["containers"]], [c["name"] for c in pod.get("initContainers", [])]


def test_without_a_catalog_the_master_runs_the_clusters_own_metastore() -> None:
    resolved = resolve_spec(_hive())
    uris = f"thrift://{resolved.name}-master.{resolved.namespace}.svc:9083"
    assert resolved.endpoints.status["metastore"] == uris
    containers, init = _master_containers(_hive())
    assert containers == ["spark-master", "namenode", "hive-metastore"]
    assert "hive-metastore-init" in init


def test_with_a_catalog_spark_uses_the_catalogs_metastore_and_the_master_runs_none() -> None:
    spec = _hive(catalog={"name": "lake"})
    resolved = resolve_spec(spec)
    uris = f"thrift://lake-metastore.{resolved.namespace}.svc:9083"
    assert resolved.endpoints.status["metastore"] == uris
    defaults = resolved.client_configuration[Classification.SPARK_DEFAULTS]
    assert defaults["spark.sql.catalogImplementation"] == "hive"
    assert defaults["spark.hadoop.hive.metastore.uris"] == uris
    assert resolved.client_configuration[Classification.HIVE_SITE]["hive.metastore.uris"] == uris
    containers, init = _master_containers(spec)
    assert containers == ["spark-master", "namenode"]
    assert not [name for name in init if name.startswith("hive")]


def test_the_keys_pointing_spark_at_the_metastore_are_the_operators() -> None:
    spec = _hive(
        configurations=[
            {"classification": "hive-site", "properties": {"hive.metastore.uris": "thrift://elsewhere:9083"}},
            {
                "classification": "spark-defaults",
                "properties": {"spark.sql.catalogImplementation": "in-memory"},
            },
        ]
    )
    fields = {issue.field: issue.message for issue in validate_cluster(spec)}
    assert 'spec.configurations[hive-site].properties["hive.metastore.uris"]' in fields, fields
    assert 'spec.configurations[spark-defaults].properties["spark.sql.catalogImplementation"]' in fields, (
        fields
    )
    database = _hive(
        configurations=[
            {"classification": "hive-site", "properties": {"javax.jdo.option.ConnectionURL": "jdbc:x"}}
        ]
    )
    [issue] = validate_cluster(database)
    assert "spec.catalog" in issue.message


def test_a_hive_step_on_a_cluster_without_hive_names_the_fix() -> None:
    spec = small_spec(steps=[{"name": "q", "hive": {"query": "SELECT 1"}}])
    [issue] = validate_cluster(spec)
    assert issue.field == "spec.steps[q].hive"
    assert "add Hive to the cluster's spec.applications" in issue.message
