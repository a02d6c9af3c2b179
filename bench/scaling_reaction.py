"""Benchmark: how fast managed scaling reacts to pending work — from an EMRStep being created to the first
task pod of the scale-up existing.

eval "$(cluster/env.sh)"
uv run python bench/scaling_reaction.py [--trials=20] [--timeout=600]

One EMRCluster (core group: 2 workers of 1 core; task group 0..4 workers of 1 core, cooldown 0, stabilization
0) receives one step at a time asking for 4 cores (`spark.cores.max`), so each step makes the task group grow
from 0; kwok runs its driver for 1 s, after which the group shrinks back to 0 before the next trial. Prints
step created → first new task pod seen on a pod watch, p50/p95/max.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from bench_support import PodRecorder, as_dict, percentile  # noqa: E402

from support.emr import cluster_manifest, step_manifest  # noqa: E402
from support.operator import OperatorProcess  # noqa: E402

GROUP, VERSION = "kemr.io", "v1alpha1"
TASK_GROUP = {
    "name": "spot",
    "capacityType": "spot",
    "minReplicas": 0,
    "maxReplicas": 4,
    "resources": {"cpu": "1", "memory": "2Gi"},
}
SCALING = {"enabled": True, "cooldownSeconds": 0, "scaleDownStabilizationSeconds": 0}


def wait(what: str, probe: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    kubeconfig = Path(os.environ.get("KUBECONFIG") or config.KUBE_CONFIG_DEFAULT_LOCATION).expanduser()
    config.load_kube_config(str(kubeconfig))
    core, apps, custom = client.CoreV1Api(), client.AppsV1Api(), client.CustomObjectsApi()
    namespace = f"bench-scaling-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    operator = OperatorProcess(kubeconfig, Path(tempfile.mkdtemp()) / "operator.log")
    operator.start()
    recorder = PodRecorder(core, namespace, "kemr.io/role=task", lambda pod: pod.metadata.name)
    deadline = time.monotonic() + args.timeout
    try:
        manifest = cluster_manifest("bench", taskGroups=[TASK_GROUP], managedScaling=SCALING)
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "emrclusters", manifest)

        def cluster_ready() -> bool:
            obj = as_dict(
                custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "emrclusters", "bench")
            )
            return bool((obj.get("status") or {}).get("state") == "WAITING")

        def task_replicas() -> int:
            deployment = apps.read_namespaced_deployment("bench-task-spot", namespace)
            return int(deployment.spec.replicas or 0)

        wait("the cluster to be WAITING", cluster_ready, deadline - time.monotonic())
        recorder.start()
        reactions: list[float] = []
        for trial in range(args.trials):
            wait("the task group at 0", lambda: task_replicas() == 0, deadline - time.monotonic())
            name = f"t{trial:03d}"
            step = step_manifest(
                name,
                "bench",
                duration="1s",
                spark={"mainApplicationFile": "s3a://bucket/job.py", "conf": {"spark.cores.max": "4"}},
            )
            created = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "emrsteps", step)

            def scaled(created: float = created) -> bool:
                return recorder.first_after(created) is not None

            wait(f"a task pod for step {name}", scaled, deadline - time.monotonic())
            first = recorder.first_after(created)
            assert first is not None
            reactions.append(first - created)

            def finished(name: str = name) -> bool:
                got = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "emrsteps", name)
                obj = as_dict(got)
                return bool((obj.get("status") or {}).get("state") == "COMPLETED")

            wait(f"step {name} COMPLETED", finished, deadline - time.monotonic())
        print(f"trials: {len(reactions)} (one 4-core step at a time; core offers 2 cores, task group 0..4)")
        print(
            f"step created → first task pod: p50 {percentile(reactions, 0.5) * 1000:.0f} ms, "
            f"p95 {percentile(reactions, 0.95) * 1000:.0f} ms, max {max(reactions) * 1000:.0f} ms"
        )
    finally:
        recorder.stop.set()
        operator.stop()
        core.delete_namespace(namespace)


if __name__ == "__main__":
    main()
