"""Hive on the real node: a DataCatalog (real PostgreSQL, real Hive metastore) whose tables outlive the
clusters that made them, HiveQL steps run by Spark SQL, real S3 (issue 15).

The walkthrough's "Option 2", across two transient clusters:

1. cluster A (Hive, spec.catalog) runs a `hive` step: CREATE EXTERNAL TABLE orders ... LOCATION 's3://...',
   and terminates;
2. the catalog's PostgreSQL pod is deleted and comes back;
3. cluster B, created after A is gone, runs the walkthrough's GROUP BY into S3 (INSERT OVERWRITE DIRECTORY,
   with a `-d OUTPUT=...` variable), a Spark step reading the table with spark.table, and a HiveQL syntax
   error that must fail with Spark's message in failureDetails.

Timings (the catalog's cold start, the two-cluster run) are printed for the closing note.
"""

from __future__ import annotations

import csv
import io
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from minio import Minio

from support import emr
from support.kube import Kube, wait_until
from support.operator import OperatorProcess
from support.s3 import LocalS3, list_keys, put_bytes, read_bytes
from support.walkthrough import create_s3_secret, expected_totals, s3_spec, walkthrough_rows

CATALOG_TIMEOUT_S = 420
UNREACHABLE_DB = "jdbc:postgresql://nowhere.invalid:5432/hive"
CLUSTER_TIMEOUT_S = 600

pytestmark = pytest.mark.timeout(CATALOG_TIMEOUT_S + 3 * CLUSTER_TIMEOUT_S + 300)

# The walkthrough's DDL, verbatim in shape.
CREATE_TABLE = """CREATE EXTERNAL TABLE orders(order_id STRING, customer_id STRING, amount DOUBLE,
  status STRING, order_date STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION '${INPUT}';"""
# The walkthrough's query, its result written to S3.
TOTALS = """INSERT OVERWRITE DIRECTORY '${OUTPUT}' ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
SELECT customer_id, SUM(amount) AS total_sales FROM orders WHERE status='completed' GROUP BY customer_id;"""
# A Spark application reading the table through the catalog.
SPARK_TABLE_JOB = """import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
n = spark.table("orders").where("status = 'completed'").count()
result = spark.createDataFrame([(n,)], "completed long").coalesce(1)
result.write.mode("overwrite").csv(sys.argv[1], header=True)
"""


@dataclass
class HiveRun:
    namespace: str
    bucket: str
    client: Minio
    rows: list[list[str]]
    catalog: dict[str, Any]
    cluster_a: dict[str, Any]
    cluster_b: dict[str, Any]
    steps: dict[str, dict[str, Any]]
    created: dict[str, Any]
    catalog_cold_start_s: float
    two_clusters_s: float
    database_restart_s: float
    unreachable: dict[str, Any]


def catalog_manifest(name: str, database: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """A DataCatalog light enough to sit beside the clusters on the real node's 2 CPUs."""
    return {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "DataCatalog",
        "metadata": {"name": name},
        "spec": {
            "database": database or {"resources": {"cpu": "100m", "memory": "512Mi"}},
            "metastore": {"resources": {"cpu": "100m", "memory": "768Mi"}},
            **spec,
        },
    }


def hive_cluster(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A small transient cluster with Hive on the test's catalog: it terminates after its steps."""
    return emr.small_real_cluster(
        name,
        applications=["Spark", "Hive"],
        catalog={"name": "lake"},
        s3=s3_spec(),
        autoTermination={"keepAliveWhenNoSteps": False},
        steps=steps,
    )


def hive_step(name: str, query: str, **variables: str) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "driver": {"resources": {"cpu": "100m", "memory": "1Gi"}}}
    if variables:
        body["variables"] = variables
    return {"name": name, "actionOnFailure": "CONTINUE", "hive": body}


def _catalog_active(kube: Kube, namespace: str) -> dict[str, Any] | None:
    obj: dict[str, Any] = kube.get("datacatalog", "-n", namespace, "lake")
    return obj if (obj.get("status") or {}).get("state") == "ACTIVE" else None


def _terminated(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        obj = emr.cluster(kube, namespace, name)
        return obj if str((obj.get("status") or {}).get("state")).startswith("TERMINATED") else None

    try:
        return wait_until(ended, CLUSTER_TIMEOUT_S, f"EMRCluster {namespace}/{name} to terminate", 5)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{emr.diagnose(kube, namespace)}") from None


@pytest.fixture(scope="module")
def hive_run(kube: Kube, s3: LocalS3, real_node_operator: OperatorProcess) -> Iterator[HiveRun]:
    del real_node_operator
    client = s3.client()
    bucket = f"hive-{secrets.token_hex(4)}"
    client.make_bucket(bucket)
    rows = walkthrough_rows()
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    put_bytes(client, f"s3://{bucket}/walkthrough/orders/orders.csv", text.getvalue().encode())
    put_bytes(client, f"s3://{bucket}/jobs/completed_from_table.py", SPARK_TABLE_JOB.encode())
    namespace = f"e2e-hive-{secrets.token_hex(3)}"
    kube.run("create", "namespace", namespace)
    create_s3_secret(kube, namespace, s3)
    try:
        # The catalog: PostgreSQL on a volume, the schema made by Hive's schema tool, the metastore.
        started = time.monotonic()
        # Beside it, one whose database can't be reached: its status must say so (checked at the end).
        kube.run(
            "create", "secret", "generic", "rds-hive", "-n", namespace,
            "--from-literal=username=hive", "--from-literal=password=secret",
        )  # fmt: skip
        broken = {"jdbcUrl": UNREACHABLE_DB, "credentialsSecretRef": {"name": "rds-hive"}}
        kube.apply(catalog_manifest("broken", database=broken), namespace=namespace)
        catalog = catalog_manifest("lake", s3=s3_spec())
        kube.apply(catalog, namespace=namespace)
        try:
            catalog = wait_until(
                lambda: _catalog_active(kube, namespace), CATALOG_TIMEOUT_S, "catalog ACTIVE", 3
            )
        except AssertionError as err:
            raise AssertionError(f"{err}\n{emr.diagnose(kube, namespace)}") from None
        cold_start = time.monotonic() - started

        # Cluster A makes the table and goes away.
        started = time.monotonic()
        create = hive_step("create-table", CREATE_TABLE, INPUT=f"s3://{bucket}/walkthrough/orders/")
        kube.apply(hive_cluster("cluster-a", [create]), namespace=namespace)
        cluster_a = _terminated(kube, namespace, "cluster-a")
        [created] = kube.items("emrsteps", "-n", namespace, "-l", "kemr.io/cluster=cluster-a")
        kube.run("delete", "emrcluster", "-n", namespace, "cluster-a", "--wait=true", "--timeout=180s")

        # The catalog's database restarts: what it holds is on its volume.
        restarted = time.monotonic()
        kube.run("delete", "pod", "-n", namespace, "lake-db-0", "--wait=true")
        wait_until(
            lambda: (
                kube.items("pods", "-n", namespace, "-l", "kemr.io/catalog=lake,kemr.io/role=database")
                and _catalog_active(kube, namespace)
            ),
            CATALOG_TIMEOUT_S,
            "the database pod back and the catalog ACTIVE",
            3,
        )
        kube.run("wait", "pod", "-n", namespace, "lake-db-0", "--for=condition=Ready", "--timeout=180s")
        database_restart = time.monotonic() - restarted

        # Cluster B, a new cluster, finds the table in the catalog.
        steps = [
            hive_step("totals", TOTALS, OUTPUT=f"s3://{bucket}/walkthrough/totals/"),
            {
                "name": "spark-table",
                "actionOnFailure": "CONTINUE",
                "spark": {
                    "mainApplicationFile": f"s3a://{bucket}/jobs/completed_from_table.py",
                    "args": [f"s3a://{bucket}/walkthrough/completed/"],
                    "driver": {"resources": {"cpu": "100m", "memory": "1Gi"}},
                },
            },
            hive_step("syntax-error", "SELEC customer_id FROM orders"),
        ]
        kube.apply(hive_cluster("cluster-b", steps), namespace=namespace)
        cluster_b = _terminated(kube, namespace, "cluster-b")
        two_clusters = time.monotonic() - started
        found = kube.items("emrsteps", "-n", namespace, "-l", "kemr.io/cluster=cluster-b")
        unreachable = kube.get("datacatalog", "-n", namespace, "broken")
        by_name = {s["metadata"]["name"].removeprefix("cluster-b-"): s for s in found}
        print(emr.diagnose(kube, namespace))
        print(
            f"hive timings: catalog cold start {cold_start:.0f} s, database restart {database_restart:.0f} s,"
            f" two clusters {two_clusters:.0f} s"
        )
        yield HiveRun(
            namespace, bucket, client, rows, catalog, cluster_a, cluster_b, by_name, created, cold_start,
            two_clusters, database_restart, unreachable,
        )  # fmt: skip
    finally:
        kube.run("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_catalog_says_where_its_metastore_and_database_are(hive_run: HiveRun) -> None:
    status = hive_run.catalog["status"]
    assert status["endpoint"] == f"thrift://lake-metastore.{hive_run.namespace}.svc:9083"
    assert status["database"] == f"jdbc:postgresql://lake-db.{hive_run.namespace}.svc:5432/metastore"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"Ready": "True", "DatabaseReady": "True", "Synced": "True", "Reconciling": "False"}


def test_cluster_a_created_the_table_and_terminated(hive_run: HiveRun) -> None:
    assert hive_run.created["status"]["state"] == "COMPLETED", hive_run.created["status"]
    assert hive_run.cluster_a["status"]["state"] == "TERMINATED"
    assert hive_run.cluster_a["status"]["stateChangeReason"]["code"] == "ALL_STEPS_COMPLETED"


def test_cluster_b_computes_the_walkthrough_totals_from_the_table_a_made(hive_run: HiveRun) -> None:
    assert hive_run.steps["totals"]["status"]["state"] == "COMPLETED", hive_run.steps["totals"]["status"]
    prefix = f"s3://{hive_run.bucket}/walkthrough/totals/"
    got: dict[str, Decimal] = {}
    for key in list_keys(hive_run.client, prefix):
        name = key.rsplit("/", 1)[-1]
        if name.startswith(("_", ".")):
            continue
        for line in read_bytes(hive_run.client, f"s3://{hive_run.bucket}/{key}").decode().splitlines():
            customer, total = line.split(",")
            got[customer] = Decimal(total).quantize(Decimal("0.01"))
    assert got == expected_totals(hive_run.rows)


def test_a_spark_step_reads_the_table_with_spark_table(hive_run: HiveRun) -> None:
    assert hive_run.steps["spark-table"]["status"]["state"] == "COMPLETED"
    keys = list_keys(hive_run.client, f"s3://{hive_run.bucket}/walkthrough/completed/")
    parts = [k for k in keys if k.rsplit("/", 1)[-1].startswith("part-")]
    lines = [
        line
        for part in parts
        for line in read_bytes(hive_run.client, f"s3://{hive_run.bucket}/{part}").decode().split()
    ]
    assert lines == ["completed", str(sum(1 for r in hive_run.rows if r[3] == "completed"))]


def test_a_hiveql_syntax_error_fails_the_step_with_sparks_message(hive_run: HiveRun) -> None:
    status = hive_run.steps["syntax-error"]["status"]
    assert status["state"] == "FAILED"
    message = status["failureDetails"]["message"]
    assert "PARSE_SYNTAX_ERROR" in message or "Syntax error" in message, message
    assert "SELEC" in message


def test_the_table_outlived_its_database_pod(hive_run: HiveRun) -> None:
    # Cluster B ran after the database pod was deleted and came back: its query found the table.
    assert hive_run.database_restart_s > 0
    assert hive_run.steps["totals"]["status"]["state"] == "COMPLETED"


def test_a_catalog_whose_database_cant_be_reached_says_so(hive_run: HiveRun) -> None:
    status = hive_run.unreachable["status"]
    assert status["state"] == "CREATING"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["DatabaseReady"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "DatabaseNotReady"
    message = conditions["Ready"]["message"]
    assert f"the metastore database at {UNREACHABLE_DB} did not accept connections within 60 s" in message
    assert "secret" not in message  # never the password
