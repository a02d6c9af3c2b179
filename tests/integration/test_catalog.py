"""DataCatalogs and the clusters that use them, on the local cluster's kwok nodes (issue 15): how a cluster
waits for its catalog and says why, and how a catalog in use is kept from deletion. The metastore and
PostgreSQL really running, and Spark using them, is tests/e2e/test_hive.py's (the real node)."""

from __future__ import annotations

from typing import Any

import pytest

from support.emr import cluster, cluster_manifest, wait_for_state
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(300)


def _catalog(name: str = "lake") -> dict[str, Any]:
    return {"apiVersion": "kemr.io/v1alpha1", "kind": "DataCatalog", "metadata": {"name": name}, "spec": {}}


def _reason(kube: Kube, namespace: str, name: str) -> str:
    return str(
        ((cluster(kube, namespace, name).get("status") or {}).get("stateChangeReason") or {}).get("message")
    )


def test_a_cluster_waits_for_its_catalog_saying_why_then_starts(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    del operator
    kube.apply(
        cluster_manifest("etl", applications=["Spark", "HDFS", "Hive"], catalog={"name": "lake"}),
        namespace=namespace,
    )
    missing = "spec.catalog: DataCatalog lake does not exist in namespace"
    wait_until(
        lambda: missing in _reason(kube, namespace, "etl"), 60, "the cluster to name its missing catalog"
    )
    assert cluster(kube, namespace, "etl")["status"]["state"] == "STARTING"
    wait_until(  # Events are posted in the background (apply/events.py): seconds after the status
        lambda: [
            e
            for e in kube.items("events", "-n", namespace, "--field-selector", "involvedObject.name=etl")
            if e.get("reason") == "DependencyNotReady" and missing in e.get("message", "")
        ],
        10,
        "a Warning Event saying the same",
    )

    kube.apply(_catalog(), namespace=namespace)  # on kwok nodes its pods are Ready at once
    catalog = wait_until(
        lambda: (
            (c := kube.get("datacatalog", "-n", namespace, "lake")).get("status", {}).get("state") == "ACTIVE"
            and c
        ),
        120,
        "the catalog ACTIVE",
    )
    assert catalog["status"]["endpoint"] == f"thrift://lake-metastore.{namespace}.svc:9083"
    assert catalog["metadata"]["finalizers"] == ["kemr.io/catalog-in-use"]
    ready = wait_for_state(kube, namespace, "etl", "WAITING", timeout=120)
    assert ready["status"]["endpoints"]["metastore"] == catalog["status"]["endpoint"]
    secret = kube.get("secret", "-n", namespace, "lake-db-credentials")
    assert set(secret["data"]) == {"username", "password"}
    assert "ownerReferences" not in secret["metadata"]  # kept with the database's volume


def test_a_catalog_in_use_is_not_deleted_until_its_clusters_are_gone(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    del operator
    kube.apply(_catalog(), namespace=namespace)
    kube.apply(
        cluster_manifest("etl", applications=["Spark", "HDFS", "Hive"], catalog={"name": "lake"}),
        namespace=namespace,
    )
    wait_for_state(kube, namespace, "etl", "WAITING", timeout=180)
    wait_until(
        lambda: kube.get("datacatalog", "-n", namespace, "lake").get("status", {}).get("clusters") == ["etl"],
        60,
        "the catalog to list its cluster",
    )
    refused = kube.run("delete", "datacatalog", "-n", namespace, "lake", "--wait=false", check=False)
    assert refused.returncode != 0
    assert "DataCatalog lake is used by EMRClusters etl (spec.catalog)" in refused.stderr

    kube.apply(
        cluster_manifest(
            "etl", applications=["Spark", "HDFS", "Hive"], catalog={"name": "lake"}, terminate=True
        ),
        namespace=namespace,
    )
    wait_for_state(kube, namespace, "etl", "TERMINATED", timeout=180)
    kube.run("delete", "datacatalog", "-n", namespace, "lake", "--wait=true", "--timeout=60s")
    assert not kube.items("datacatalogs", "-n", namespace)
    wait_until(
        lambda: not kube.items("deployments,statefulsets", "-n", namespace, "-l", "kemr.io/catalog=lake"),
        60,
        "the catalog's workloads to go with it",
    )
    # What it stored stays: the database's volume claim (a StatefulSet's, Retain) and its credentials.
    assert kube.get("secret", "-n", namespace, "lake-db-credentials")
