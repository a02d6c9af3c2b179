"""EMR's API on the real node (issue 17): boto3's RunJobFlow with the demo's job as a `command-runner.jar
spark-submit` step, as an EMR user writes it, runs a transient cluster whose totals land in S3.

The API runs as a process with the chart's rules (support/emr_api.py) and a configuration file whose
instance types fit the real node's 2 CPUs and whose clusterDefaults give clusters the local S3 (EMR's S3 is
implicit; a Kubernetes cluster's isn't).
"""

from __future__ import annotations

import secrets
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import emr
from support.emr_api import EmrApiProcess, create_key, emr_api_identity
from support.emr_clients import boto3_call, boto3_wait
from support.kube import Kube
from support.operator import OperatorProcess
from support.s3 import LocalS3, list_keys, put_bytes
from support.walkthrough import create_s3_secret, s3_spec

from .test_demo import DEMO, ORDERS, expected_totals, read_csv_output

KEY_NAMESPACE = "kemr-tests-emr-keys"
RUN_TIMEOUT_S = 900
pytestmark = pytest.mark.timeout(RUN_TIMEOUT_S + 180)

# Instance types the size of the real node's pods (the default table's m5.xlarge is 4 CPUs, 16 GiB).
SMALL_TYPES = {
    "m5.large": {"cpu": "100m", "memory": "1Gi"},
    "m5.xlarge": {"cpu": "100m", "memory": "2Gi"},
}


def test_boto3_runs_the_demo_job_and_its_totals_land_in_s3(
    kube: Kube, s3: LocalS3, real_node_operator: OperatorProcess, tmp_path: Path
) -> None:
    del real_node_operator
    namespace = f"e2e-emr-api-{secrets.token_hex(3)}"
    kube.run("create", "namespace", namespace)
    create_s3_secret(kube, namespace, s3)
    client = s3.client()
    bucket = f"emr-api-{secrets.token_hex(4)}"
    client.make_bucket(bucket)
    put_bytes(client, f"s3://{bucket}/input/orders.csv", ORDERS.read_bytes())
    put_bytes(
        client, f"s3://{bucket}/jobs/sales_by_customer.py", (DEMO / "sales_by_customer.py").read_bytes()
    )

    config = tmp_path / "emr-api.yaml"
    config.write_text(yaml.safe_dump({"instanceTypes": SMALL_TYPES, "clusterDefaults": {"s3": s3_spec()}}))
    identity = emr_api_identity(kube, [namespace], KEY_NAMESPACE, tmp_path / "kubeconfig")
    api = EmrApiProcess(identity, KEY_NAMESPACE, tmp_path / "emr-api.log", config=config)
    api.start()
    try:
        key = create_key(kube, KEY_NAMESPACE, namespace)
        group = {"Market": "ON_DEMAND", "InstanceCount": 1}
        request: dict[str, Any] = {
            "Name": "sales-by-customer",
            "ReleaseLabel": "emr-7.5.0",
            "Applications": [{"Name": "Spark"}, {"Name": "Hadoop"}],
            "LogUri": f"s3://{bucket}/logs/",
            "Instances": {
                "InstanceGroups": [
                    {**group, "InstanceRole": "MASTER", "InstanceType": "m5.large"},
                    {**group, "InstanceRole": "CORE", "InstanceType": "m5.xlarge"},
                ],
                "KeepJobFlowAliveWhenNoSteps": False,
            },
            "Steps": [
                {
                    "Name": "sales",
                    "ActionOnFailure": "TERMINATE_CLUSTER",
                    "HadoopJarStep": {
                        "Jar": "command-runner.jar",
                        "Args": [
                            "spark-submit", "--deploy-mode", "cluster", "--driver-memory", "768m",
                            f"s3://{bucket}/jobs/sales_by_customer.py",
                            f"s3://{bucket}/input/orders.csv", f"s3://{bucket}/output/sales/",
                        ],
                    },
                }
            ],
        }  # fmt: skip
        started = time.monotonic()
        cluster_id = boto3_call(api.endpoint, key, "run_job_flow", request)["JobFlowId"]
        steps = boto3_call(api.endpoint, key, "list_steps", {"ClusterId": cluster_id})["Steps"]
        [step_id] = [s["Id"] for s in steps]
        try:
            boto3_wait(
                api.endpoint, key, "step_complete", {"ClusterId": cluster_id, "StepId": step_id}, 5, 170
            )
            boto3_wait(api.endpoint, key, "cluster_terminated", {"ClusterId": cluster_id}, 5, 60)
        except Exception as err:
            raise AssertionError(f"{err}\n{emr.diagnose(kube, namespace)}") from None
        took = time.monotonic() - started
        print(f"\nEMR API: RunJobFlow → step COMPLETED → cluster TERMINATED in {took:.0f} s")

        status = boto3_call(api.endpoint, key, "describe_cluster", {"ClusterId": cluster_id})["Cluster"][
            "Status"
        ]
        assert status["State"] == "TERMINATED"
        assert status["StateChangeReason"]["Code"] == "ALL_STEPS_COMPLETED"
        rows = read_csv_output(client, f"s3://{bucket}/output/sales/")
        assert {r["customer_id"]: Decimal(r["total_sales"]) for r in rows} == expected_totals(ORDERS)
        assert "output/sales/_SUCCESS" in list_keys(client, f"s3://{bucket}/output/sales/")
    finally:
        api.stop()
        kube.run("delete", "namespace", namespace, "--wait=false", check=False)
