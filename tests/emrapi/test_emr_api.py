"""EMR's own API against the local cluster (kwok pools): boto3, the aws CLI and the JavaScript SDK run
unchanged with only their endpoint set, and every refusal answers in EMR's error shape (issue 17)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kemr.controllers import certs
from support.emr_api import API_ACCOUNT, RELEASE_NAMESPACE, EmrApiProcess, raw_post
from support.emr_clients import (
    Credentials,
    EmrClientError,
    aws_cli,
    boto3_call,
    boto3_wait,
    node_add_step,
)
from support.kube import Kube

from .conftest import KEY_NAMESPACE, Tenants

pytestmark = pytest.mark.timeout(300)

CLUSTER_ID = re.compile(r"^j-[A-Z2-7]{13}$")
STEP_ID = re.compile(r"^s-[A-Z2-7]{13}$")


def run_job_flow_request(name: str, **overrides: Any) -> dict[str, Any]:
    """A RunJobFlow request as an EMR user writes it: master, core and a SPOT task group, Spark and Hive,
    a configuration, and the IAM fields kemr accepts and ignores."""
    group = {"Market": "ON_DEMAND", "InstanceType": "m5.xlarge", "InstanceCount": 1}
    request: dict[str, Any] = {
        "Name": name,
        "ReleaseLabel": "emr-7.5.0",
        "Applications": [{"Name": "Spark"}, {"Name": "Hive"}],
        "Instances": {
            "InstanceGroups": [
                {**group, "Name": "Primary", "InstanceRole": "MASTER"},
                {**group, "Name": "Core", "InstanceRole": "CORE", "InstanceCount": 2},
                {**group, "Name": "Spot tasks", "InstanceRole": "TASK", "Market": "SPOT"},
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        "Configurations": [
            {"Classification": "spark-defaults", "Properties": {"spark.sql.shuffle.partitions": "8"}}
        ],
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole",
        "VisibleToAllUsers": True,
        "Tags": [{"Key": "team", "Value": "data"}],
    }
    request.update(overrides)
    return request


def spark_submit_step(name: str, script: str = "s3://kemr-demo/jobs/job.py") -> dict[str, Any]:
    return {
        "Name": name,
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": ["spark-submit", "--deploy-mode", "cluster", script],
        },
    }


def test_boto3_runs_a_cluster_and_a_step_through_its_whole_life(tenants: Tenants, kube: Kube) -> None:
    ep, key = tenants.endpoint, tenants.key_a
    created = boto3_call(ep, key, "run_job_flow", run_job_flow_request("nightly-etl"))
    cluster_id = created["JobFlowId"]
    assert CLUSTER_ID.match(cluster_id), created
    assert created["ClusterArn"].endswith(f":cluster/{cluster_id}")

    # The objects are the one source of truth: an EMRCluster in the key's namespace, with its id as a label.
    [obj] = kube.items("emrclusters", "-n", tenants.a, "-l", f"kemr.io/emr-id={cluster_id}")
    spec = obj["spec"]
    assert [g["replicas"] for g in spec["coreGroups"]] == [2]
    assert spec["taskGroups"][0]["capacityType"] == "spot"
    assert set(spec["applications"]) >= {"Spark", "Hive"}

    boto3_wait(ep, key, "cluster_running", {"ClusterId": cluster_id}, delay=2, max_attempts=90)
    cluster = boto3_call(ep, key, "describe_cluster", {"ClusterId": cluster_id})["Cluster"]
    assert cluster["Id"] == cluster_id
    assert cluster["Name"] == "nightly-etl"
    assert cluster["Status"]["State"] == "WAITING", cluster["Status"]
    assert {a["Name"] for a in cluster["Applications"]} >= {"Spark", "Hive"}
    assert {"Key": "team", "Value": "data"} in cluster["Tags"]
    groups = boto3_call(ep, key, "list_instance_groups", {"ClusterId": cluster_id})["InstanceGroups"]
    assert sorted((g["InstanceGroupType"], g["Market"]) for g in groups) == [
        ("CORE", "ON_DEMAND"), ("MASTER", "ON_DEMAND"), ("TASK", "SPOT"),
    ]  # fmt: skip

    added = boto3_call(
        ep, key, "add_job_flow_steps", {"JobFlowId": cluster_id, "Steps": [spark_submit_step("daily")]}
    )
    [step_id] = added["StepIds"]
    assert STEP_ID.match(step_id)
    boto3_wait(
        ep, key, "step_complete", {"ClusterId": cluster_id, "StepId": step_id}, delay=2, max_attempts=60
    )
    step = boto3_call(ep, key, "describe_step", {"ClusterId": cluster_id, "StepId": step_id})["Step"]
    assert step["Status"]["State"] == "COMPLETED"
    assert step["Config"]["Jar"] == "command-runner.jar"
    assert step["Config"]["Args"][0] == "spark-submit"
    assert {"StartDateTime", "EndDateTime"} <= set(step["Status"]["Timeline"])
    listed = boto3_call(ep, key, "list_steps", {"ClusterId": cluster_id})["Steps"]
    assert [s["Id"] for s in listed] == [step_id]

    boto3_call(ep, key, "terminate_job_flows", {"JobFlowIds": [cluster_id]})
    boto3_wait(ep, key, "cluster_terminated", {"ClusterId": cluster_id}, delay=2, max_attempts=90)
    ended = boto3_call(ep, key, "describe_cluster", {"ClusterId": cluster_id})["Cluster"]["Status"]
    assert ended["State"] == "TERMINATED"
    assert ended["StateChangeReason"]["Code"] == "USER_REQUEST"


def test_termination_protection_and_resize(tenants: Tenants) -> None:
    ep, key = tenants.endpoint, tenants.key_a
    cluster_id = boto3_call(ep, key, "run_job_flow", run_job_flow_request("protected"))["JobFlowId"]
    boto3_call(
        ep, key, "set_termination_protection", {"JobFlowIds": [cluster_id], "TerminationProtected": True}
    )
    with pytest.raises(EmrClientError) as refused:
        boto3_call(ep, key, "terminate_job_flows", {"JobFlowIds": [cluster_id]})
    assert refused.value.code == "ValidationException"
    assert "termination protected" in refused.value.message
    groups = boto3_call(ep, key, "list_instance_groups", {"ClusterId": cluster_id})["InstanceGroups"]
    core = next(g for g in groups if g["InstanceGroupType"] == "CORE")
    boto3_call(
        ep, key, "modify_instance_groups",
        {"ClusterId": cluster_id, "InstanceGroups": [{"InstanceGroupId": core["Id"], "InstanceCount": 3}]},
    )  # fmt: skip
    groups = boto3_call(ep, key, "list_instance_groups", {"ClusterId": cluster_id})["InstanceGroups"]
    assert next(g for g in groups if g["Id"] == core["Id"])["RequestedInstanceCount"] == 3
    boto3_call(
        ep, key, "set_termination_protection", {"JobFlowIds": [cluster_id], "TerminationProtected": False}
    )
    boto3_call(ep, key, "terminate_job_flows", {"JobFlowIds": [cluster_id]})


def test_the_aws_cli_lists_and_describes_clusters(tenants: Tenants) -> None:
    ep, key = tenants.endpoint, tenants.key_a
    cluster_id = boto3_call(ep, key, "run_job_flow", run_job_flow_request("cli-seen"))["JobFlowId"]
    listed = aws_cli(ep, key, "list-clusters", "--active")
    assert cluster_id in [c["Id"] for c in listed["Clusters"]]
    described = aws_cli(ep, key, "describe-cluster", "--cluster-id", cluster_id)
    assert described["Cluster"]["Id"] == cluster_id
    assert {g["InstanceGroupType"] for g in described["Cluster"]["InstanceGroups"]} == {
        "MASTER",
        "CORE",
        "TASK",
    }
    boto3_call(ep, key, "terminate_job_flows", {"JobFlowIds": [cluster_id]})


def test_the_walkthroughs_nodejs_function_adds_a_step_that_completes(tenants: Tenants) -> None:
    ep, key = tenants.endpoint, tenants.key_a
    cluster_id = boto3_call(ep, key, "run_job_flow", run_job_flow_request("from-node"))["JobFlowId"]
    boto3_wait(ep, key, "cluster_running", {"ClusterId": cluster_id}, delay=2, max_attempts=90)
    [step_id] = node_add_step(ep, key, cluster_id, "s3://kemr-demo/jobs/job.py")
    boto3_wait(
        ep, key, "step_complete", {"ClusterId": cluster_id, "StepId": step_id}, delay=2, max_attempts=60
    )
    boto3_call(ep, key, "terminate_job_flows", {"JobFlowIds": [cluster_id]})


def test_a_key_sees_and_touches_only_its_own_namespace(tenants: Tenants) -> None:
    ep = tenants.endpoint
    in_b = boto3_call(ep, tenants.key_b, "run_job_flow", run_job_flow_request("team-b-only"))["JobFlowId"]
    seen_by_a = [c["Id"] for c in boto3_call(ep, tenants.key_a, "list_clusters", {})["Clusters"]]
    assert in_b not in seen_by_a
    for operation, params in [
        ("describe_cluster", {"ClusterId": in_b}),
        ("terminate_job_flows", {"JobFlowIds": [in_b]}),
        ("add_job_flow_steps", {"JobFlowId": in_b, "Steps": [spark_submit_step("x")]}),
    ]:
        with pytest.raises(EmrClientError) as refused:
            boto3_call(ep, tenants.key_a, operation, params)
        assert refused.value.code == "InvalidRequestException", (operation, refused.value)
    assert in_b in [c["Id"] for c in boto3_call(ep, tenants.key_b, "list_clusters", {})["Clusters"]]
    boto3_call(ep, tenants.key_b, "terminate_job_flows", {"JobFlowIds": [in_b]})


def test_refusals_answer_in_emrs_error_shape(tenants: Tenants) -> None:
    ep, key = tenants.endpoint, tenants.key_a
    wrong = Credentials(key.access_key_id, "not-the-secret", key.region)
    with pytest.raises(EmrClientError) as refused:
        boto3_call(ep, wrong, "list_clusters", {})
    assert (refused.value.status, refused.value.code) == (403, "InvalidSignatureException")
    unknown = Credentials("AKIAUNKNOWNKEY000000", "x", key.region)
    with pytest.raises(EmrClientError) as refused:
        boto3_call(ep, unknown, "list_clusters", {})
    assert (refused.value.status, refused.value.code) == (403, "UnrecognizedClientException")

    with pytest.raises(EmrClientError) as refused:
        boto3_call(ep, key, "list_studios", {})
    assert refused.value.code == "InvalidRequestException"
    assert refused.value.message == "ListStudios is not supported by kemr"

    bad = run_job_flow_request("bad")
    bad["Instances"]["InstanceGroups"][1]["InstanceType"] = "x9.huge"
    with pytest.raises(EmrClientError) as refused:
        boto3_call(ep, key, "run_job_flow", bad)
    assert refused.value.code == "ValidationException"
    assert "Instances.InstanceGroups[1]" in refused.value.message
    assert "x9.huge" in refused.value.message

    status, body = raw_post(ep, "ElasticMapReduce.ListClusters", {}, {})
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    # Nothing that could hold a secret reaches the log.
    assert key.secret_access_key not in tenants.api.log()


def test_tls_from_a_secret_for_clients_trusting_its_ca(tenants: Tenants, kube: Kube, tmp_path: Path) -> None:
    """The API serves the certificate of a kubernetes.io/tls Secret (as the chart mounts it); clients given
    its CA connect, clients without it are refused by their own TLS check."""
    cert = certs.generate([f"{API_ACCOUNT}.{RELEASE_NAMESPACE}.svc"], datetime.now(UTC))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "emr-api-tls-test"},
        "data": {"tls.crt": b64(cert.cert_pem), "tls.key": b64(cert.key_pem)},
    }
    kube.apply(secret, namespace=RELEASE_NAMESPACE)
    data = kube.get("secret", "-n", RELEASE_NAMESPACE, "emr-api-tls-test")["data"]
    crt, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    crt.write_bytes(base64.b64decode(data["tls.crt"]))
    key_file.write_bytes(base64.b64decode(data["tls.key"]))
    api = EmrApiProcess(tenants.api.kubeconfig, KEY_NAMESPACE, tmp_path / "tls.log", tls=(crt, key_file))
    api.start()
    try:
        assert api.endpoint.startswith("https://")
        key = tenants.key_a
        assert "Clusters" in boto3_call(api.endpoint, key, "list_clusters", {}, verify=str(crt))
        assert "Clusters" in aws_cli(api.endpoint, key, "list-clusters", verify=str(crt))
        with pytest.raises(EmrClientError, match=r"(?i)ssl|certificate"):
            boto3_call(api.endpoint, key, "list_clusters", {})
    finally:
        api.stop()


def test_the_apis_own_identity_is_narrow(tenants: Tenants, kube: Kube) -> None:
    """The chart's rules: the API lists key Secrets and impersonates one ServiceAccount per allowed
    namespace, nothing else; that ServiceAccount works on EMRClusters and EMRSteps only, and deletes none."""

    def can(user: str, *args: str) -> str:
        return kube.run("auth", "can-i", *args, f"--as={user}", check=False).stdout.strip()

    api = f"system:serviceaccount:{RELEASE_NAMESPACE}:{API_ACCOUNT}"
    assert can(api, "impersonate", "serviceaccounts/kemr-emr-api-user", "-n", tenants.a) == "yes"
    assert can(api, "impersonate", "serviceaccounts/default", "-n", tenants.a) == "no"
    assert can(api, "impersonate", "serviceaccounts/kemr-emr-api-user", "-n", "default") == "no"
    assert can(api, "impersonate", "users/admin") == "no"
    assert can(api, "list", "secrets", "-n", KEY_NAMESPACE) == "yes"
    assert can(api, "get", "secrets", "-n", tenants.a) == "no"
    assert can(api, "list", "emrclusters.kemr.io", "-n", tenants.a) == "no"  # only as a key's identity
    user = f"system:serviceaccount:{tenants.a}:kemr-emr-api-user"
    assert can(user, "create", "emrclusters.kemr.io", "-n", tenants.a) == "yes"
    assert can(user, "patch", "emrsteps.kemr.io", "-n", tenants.a) == "yes"
    assert can(user, "delete", "emrclusters.kemr.io", "-n", tenants.a) == "no"
    assert can(user, "list", "emrclusters.kemr.io", "-n", tenants.b) == "no"
    assert can(user, "get", "secrets", "-n", tenants.a) == "no"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
