"""The DataCatalog reconcile end to end against the in-memory apiserver (no cluster): finalizer, generated
credentials made once, children applied, status written; a delete waits for the clusters using it."""

from __future__ import annotations

import asyncio
from typing import Any

from kemr.config import OperatorConfig
from kemr.controllers.catalog import FINALIZER, reconcile_catalog
from kemr.controllers.run import Context, Options
from kemr.runtime.queue import WorkQueue
from kemr.runtime.store import Store
from support.emr import cluster_manifest
from support.fake_api import FakeApi

KEMR = "/apis/kemr.io/v1alpha1"


def _context() -> tuple[Context, FakeApi]:
    api = FakeApi()
    ctx = Context(
        kube=api,
        store=Store(),
        queue=WorkQueue(),
        config=OperatorConfig(),
        options=Options(namespaces=[], kubeconfig=None),
    )
    catalog = {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "DataCatalog",
        "metadata": {"name": "lake", "namespace": "ns"},
    }
    ctx.store.upsert("DataCatalog", api.put({**catalog, "spec": {}}, "datacatalogs", base=KEMR))
    return ctx, api


def _sync(ctx: Context, api: FakeApi) -> None:
    for (_, plural, _, _), obj in api.objects.items():
        kind = {"datacatalogs": "DataCatalog", "emrclusters": "EMRCluster"}.get(plural) or obj["kind"]
        ctx.store.upsert(kind, obj)


def _catalog(api: FakeApi) -> dict[str, Any]:
    return api.objects[(KEMR, "datacatalogs", "ns", "lake")]


def _reconcile(ctx: Context) -> float | None:
    return asyncio.run(reconcile_catalog(ctx, "ns", "lake"))


def test_a_new_catalog_gets_its_finalizer_credentials_children_and_status() -> None:
    ctx, api = _context()
    assert _reconcile(ctx) is not None  # not ready yet: checked again
    assert _catalog(api)["metadata"]["finalizers"] == [FINALIZER]
    kinds = sorted(o["kind"] for o in api.objects.values() if o["kind"] not in ("DataCatalog", "Event"))
    assert kinds == ["ConfigMap", "Deployment", "Secret", "Service", "Service", "StatefulSet"]
    status = _catalog(api)["status"]
    assert status["state"] == "CREATING"
    assert status["endpoint"] == "thrift://lake-metastore.ns.svc:9083"
    password = api.objects[("/api/v1", "secrets", "ns", "lake-db-credentials")]["stringData"]["password"]
    _sync(ctx, api)
    ctx.catalog_secrets.clear()  # as after a restart: the Secret exists, it is never rewritten
    _reconcile(ctx)
    assert (
        api.objects[("/api/v1", "secrets", "ns", "lake-db-credentials")]["stringData"]["password"] == password
    )


def test_a_delete_waits_for_the_clusters_using_the_catalog() -> None:
    ctx, api = _context()
    _reconcile(ctx)
    etl = cluster_manifest("etl", applications=["Spark", "HDFS", "Hive"], catalog={"name": "lake"})
    etl["metadata"]["namespace"] = "ns"
    api.put(etl, "emrclusters", base=KEMR)
    _sync(ctx, api)
    asyncio.run(api.request("DELETE", f"{KEMR}/namespaces/ns/datacatalogs/lake"))
    _sync(ctx, api)
    _reconcile(ctx)
    held = _catalog(api)
    assert held["metadata"]["finalizers"] == [FINALIZER]
    assert held["status"]["state"] == "DELETING"
    assert held["status"]["clusters"] == ["etl"]
    etl_obj = api.objects[(KEMR, "emrclusters", "ns", "etl")]
    etl_obj["status"] = {"state": "TERMINATED"}
    _sync(ctx, api)
    _reconcile(ctx)
    assert (KEMR, "datacatalogs", "ns", "lake") not in api.objects  # the finalizer released: gone
