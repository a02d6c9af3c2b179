"""DescribeCluster's latency through kemr's EMR API with many clusters present (issue 17's figure).

Creates `--clusters` EMRClusters in a fresh namespace with the Kubernetes client (as `kubectl apply` users
would; no operator needs to run: the API reads the objects, whatever their state), one more through the
API's RunJobFlow, starts `kemr emr-api` with the chart's rules and a key bound to that namespace, then times
`--calls` DescribeCalls with one boto3 client (client-side latency, signature and TLS-free HTTP included):

- of the RunJobFlow cluster: found by its `kemr.io/emr-id` label (one label-selected list);
- of a cluster made with the Kubernetes client: no label, found by the id derived from its uid (a full list
  of the namespace);
- ListClusters (the first page of 50 of all of them).

    eval "$(cluster/env.sh)" && uv run python bench/emr_api.py --clusters=1000
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from bench_support import as_dict, percentile  # noqa: E402

from kemr.emrapi.translate import cluster_id  # noqa: E402
from support.emr import cluster_manifest  # noqa: E402
from support.emr_api import EmrApiProcess, create_key, emr_api_identity  # noqa: E402
from support.emr_clients import boto3_call, boto3_latencies  # noqa: E402
from support.kube import Kube  # noqa: E402

GROUP, VERSION = "kemr.io", "v1alpha1"
KEY_NAMESPACE = "kemr-bench-emr-keys"


def figures(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name}: p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
        f"max {max(ms):.1f} ms ({len(ms)} calls)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    kubeconfig = Path(os.environ.get("KUBECONFIG") or config.KUBE_CONFIG_DEFAULT_LOCATION).expanduser()
    config.load_kube_config(str(kubeconfig))
    core, custom = client.CoreV1Api(), client.CustomObjectsApi()
    kube = Kube(kubeconfig=kubeconfig, kubectl_bin=os.environ.get("KUBECTL", "kubectl"))
    namespace = f"bench-emr-api-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    workdir = Path(tempfile.mkdtemp())
    api = EmrApiProcess(
        emr_api_identity(kube, [namespace], KEY_NAMESPACE, workdir / "kubeconfig"),
        KEY_NAMESPACE,
        workdir / "emr-api.log",
    )
    try:
        started = time.monotonic()

        def create(i: int) -> dict[str, Any]:
            body = cluster_manifest(f"c{i:04d}")
            return as_dict(
                custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "emrclusters", body)
            )

        with ThreadPoolExecutor(16) as pool:
            made = list(pool.map(create, range(args.clusters)))
        print(f"{args.clusters} EMRClusters created in {time.monotonic() - started:.1f} s")
        api.start()
        key = create_key(kube, KEY_NAMESPACE, namespace)
        group = {"Market": "ON_DEMAND", "InstanceType": "m5.xlarge", "InstanceCount": 1}
        request = {
            "Name": "through-the-api",
            "Instances": {
                "InstanceGroups": [{**group, "InstanceRole": "MASTER"}, {**group, "InstanceRole": "CORE"}],
                "KeepJobFlowAliveWhenNoSteps": True,
            },
        }
        labelled = boto3_call(api.endpoint, key, "run_job_flow", request)["JobFlowId"]
        unlabelled = cluster_id(made[len(made) // 2]["metadata"]["uid"])
        boto3_latencies(api.endpoint, key, "describe_cluster", {"ClusterId": labelled}, 5)  # warm the path
        print(f"EMR API with {args.clusters + 1} clusters in the namespace:")
        for name, cid in (("made by RunJobFlow (label)", labelled), ("made by kubectl (uid)", unlabelled)):
            seconds = boto3_latencies(api.endpoint, key, "describe_cluster", {"ClusterId": cid}, args.calls)
            print("  DescribeCluster of a cluster " + figures(name, seconds))
        seconds = boto3_latencies(api.endpoint, key, "list_clusters", {}, max(10, args.calls // 10))
        print("  " + figures("ListClusters (first page of 50)", seconds))
    finally:
        api.stop()
        core.delete_namespace(namespace)


if __name__ == "__main__":
    main()
