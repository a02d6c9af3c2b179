"""Trino (kemr.applications.trino): a coordinator on the master and a worker in core and task pods, from the
release's Trino image, configured per role; the keys that wire it to the cluster are owned; a spec it can't
work with is refused naming the field; `trino` steps run in the Trino image."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from golden_support import resolve_spec, small_spec

from kemr.api import Classification, EMRClusterSpec, EMRStepSpec
from kemr.builders import build_children
from kemr.builders.driver import build_driver_pod
from kemr.kubectl.cli import trino_cli_command
from kemr.resolve.errors import ResolveError
from kemr.validate import validate_cluster

BIG = {"resources": {"cpu": "2", "memory": "4Gi"}}


def _trino(**fields: Any) -> EMRClusterSpec:
    base: dict[str, Any] = {
        "applications": ["Spark", "Hive", "Trino"],
        "master": BIG,
        "coreGroups": [{"name": "core", "replicas": 2, **BIG}],
        "taskGroups": [{"name": "spot", "minReplicas": 1, "maxReplicas": 4, **BIG}],
    }
    return small_spec(**{**base, **fields})


def _pods(spec: EMRClusterSpec) -> dict[str, dict[str, Any]]:
    """Workload name → its pod spec."""
    children = build_children(resolve_spec(spec))
    return {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]
        for o in children
        if o["kind"] in ("StatefulSet", "Deployment")
    }


def test_the_coordinator_runs_on_the_master_and_a_worker_in_every_core_and_task_pod() -> None:
    pods = _pods(_trino())
    images = {
        name: {c["name"]: c["image"] for c in pod["containers"] if c["name"].startswith("trino")}
        for name, pod in pods.items()
    }
    assert images == {
        "sales-master": {"trino-coordinator": "ghcr.io/kemr-io/kemr-trino:kemr-1.0"},
        "sales-core-core": {"trino-worker": "ghcr.io/kemr-io/kemr-trino:kemr-1.0"},
        "sales-task-spot": {"trino-worker": "ghcr.io/kemr-io/kemr-trino:kemr-1.0"},
    }
    worker = next(c for c in pods["sales-task-spot"]["containers"] if c["name"] == "trino-worker")
    assert worker["lifecycle"]["preStop"]["exec"]["command"][-1].endswith("trino-worker-stop.sh")


def test_config_properties_say_which_node_is_the_coordinator() -> None:
    resolved = resolve_spec(_trino())
    master = resolved.master.configuration[Classification.TRINO_CONFIG]
    task = resolved.task_groups[0].configuration[Classification.TRINO_CONFIG]
    assert (master["coordinator"], master["node-scheduler.include-coordinator"]) == ("true", "false")
    assert task["coordinator"] == "false"
    assert master["discovery.uri"] == task["discovery.uri"] == "http://sales-master.analytics.svc:8889"
    assert resolved.endpoints.status["trino"] == "http://sales-master.analytics.svc:8889"


def test_the_hive_catalog_is_the_clusters_metastore_and_s3() -> None:
    spec = _trino(
        catalog={"name": "lake"},
        s3={
            "endpoint": "http://minio:9000",
            "pathStyleAccess": True,
            "credentials": {"secretRef": {"name": "s3"}},
        },
    )
    hive = resolve_spec(spec).master.configuration[Classification.TRINO_CONNECTOR_HIVE]
    assert hive["hive.metastore.uri"] == "thrift://lake-metastore.analytics.svc:9083"
    assert (hive["s3.endpoint"], hive["s3.path-style-access"], hive["s3.region"]) == (
        "http://minio:9000",
        "true",
        "us-east-1",
    )
    assert not [k for k in hive if k.startswith("s3.aws-")]  # the SDK's chain reads the Secret's AWS_* vars


def test_s3_for_the_hive_catalog_only_with_spec_s3_and_a_region_only_when_known() -> None:
    no_s3 = resolve_spec(_trino()).master.configuration[Classification.TRINO_CONNECTOR_HIVE]
    assert "fs.native-s3.enabled" not in no_s3
    assert "s3.region" not in no_s3
    aws = _trino(s3={"credentials": {"serviceAccountName": "s3-reader"}})
    on_aws = resolve_spec(aws).master.configuration[Classification.TRINO_CONNECTOR_HIVE]
    assert on_aws["fs.native-s3.enabled"] == "true"
    assert "s3.region" not in on_aws  # the SDK's: AWS_REGION, the instance's


def test_memory_is_split_between_spark_and_trino_as_the_sizing_says() -> None:
    resolved = resolve_spec(
        _trino(
            applications=["Spark", "HDFS", "Hive", "Trino"],
            master={"resources": {"cpu": "2", "memory": "16Gi"}},
        )
    )
    master = {d.name: d.size.memory_mib for d in resolved.master.daemons}
    # NameNode half, metastore a quarter, the coordinator half of the rest, the Spark master the rest.
    assert master == {
        "spark-master": 2048,
        "namenode": 8192,
        "hive-metastore": 4096,
        "trino-coordinator": 2048,
    }
    task = {d.name: d.size.memory_mib for d in resolved.task_groups[0].daemons}
    assert task == {"spark-worker": 2048, "trino-worker": 2048}


def test_a_master_too_small_for_the_coordinator_names_the_field_and_the_need() -> None:
    with pytest.raises(ResolveError) as raised:
        resolve_spec(_trino(master={"resources": {"cpu": "1", "memory": "2Gi"}}))
    assert raised.value.field == "spec.master.resources.memory"
    assert "the Trino coordinator, which needs at least 1Gi" in str(raised.value)


def test_trino_needs_hive_and_a_core_group() -> None:
    no_hive = {i.field: i.message for i in validate_cluster(_trino(applications=["Spark", "Trino"]))}
    assert "add Hive" in no_hive["spec.applications"]
    no_core = {i.field: i.message for i in validate_cluster(_trino(coreGroups=[]))}
    assert "add a core group" in no_core["spec.coreGroups"]


def test_the_worker_pods_grace_period_outlasts_the_trino_drain() -> None:
    from kemr.applications.trino import DRAIN_SECONDS
    from kemr.resolve.layout import WORKER_GRACE_SECONDS

    pods = _pods(_trino())
    assert pods["sales-task-spot"]["terminationGracePeriodSeconds"] == WORKER_GRACE_SECONDS
    assert WORKER_GRACE_SECONDS >= DRAIN_SECONDS + 30


def test_tuning_keys_beside_the_owned_ones_are_the_users() -> None:
    tuning = {
        "hive.metastore-cache-ttl": "1m",
        "fs.cache.enabled": "false",
        "hive.metastore.thrift.client.read-timeout": "1m",
    }
    spec = _trino(configurations=[{"classification": "trino-connector-hive", "properties": tuning}])
    assert validate_cluster(spec) == []


def test_the_keys_wiring_trino_to_the_cluster_are_the_operators() -> None:
    spec = _trino(
        configurations=[
            {
                "classification": "trino-config",
                "properties": {"coordinator": "true", "query.max-memory": "1GB"},
            },
            {
                "classification": "trino-connector-hive",
                "properties": {"hive.metastore.uri": "thrift://x:9083"},
            },
        ]
    )
    fields = {issue.field for issue in validate_cluster(spec)}
    assert fields == {
        'spec.configurations[trino-config].properties["coordinator"]',
        'spec.configurations[trino-connector-hive].properties["hive.metastore.uri"]',
    }


def test_an_image_override_and_the_trino_step_driver_image() -> None:
    spec = _trino(images={"Trino": "registry.local/trino:476"})
    resolved = resolve_spec(spec)
    step = EMRStepSpec.model_validate({"clusterRef": {"name": "sales"}, "trino": {"query": "SELECT 1"}})
    owner = {"metadata": {"name": "q", "namespace": "analytics", "uid": "u"}}
    pod = build_driver_pod(resolved, owner, step, 1, "q-1", None)
    [driver] = pod["spec"]["containers"]
    assert driver["image"] == "registry.local/trino:476"
    assert driver["command"][0] == "kemr-trino-step"
    env = {e["name"]: e.get("value") for e in driver["env"]}
    assert env["KEMR_TRINO_SERVER"] == "http://sales-master.analytics.svc:8889"


def test_a_trino_step_on_a_cluster_without_trino_names_the_fix() -> None:
    spec = small_spec(steps=[{"name": "q", "trino": {"query": "SELECT 1"}}])
    [issue] = validate_cluster(spec)
    assert issue.field == "spec.steps[q].trino"
    assert "add Trino to the cluster's spec.applications" in issue.message


def test_kubectl_emr_trino_execs_the_cli_in_the_coordinator() -> None:
    args = argparse.Namespace(
        kubeconfig="/k", context=None, execute="SELECT 1", catalog="tpch", schema="tiny", output_format="CSV"
    )
    assert trino_cli_command(args, "ns", "sales-master-0") == [
        *["kubectl", "--kubeconfig", "/k", "exec", "-n", "ns", "sales-master-0", "-c", "trino-coordinator"],
        *["--", "env", "JAVA_TOOL_OPTIONS=-Xmx128m", "trino", "--server", "http://127.0.0.1:8889"],
        *["--catalog", "tpch", "--schema", "tiny", "--output-format", "CSV", "--execute=SELECT 1"],
    ]
    args.execute = None
    assert "-it" in trino_cli_command(args, "ns", "sales-master-0")
