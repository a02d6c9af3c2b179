"""Benchmark: how fast one operator turns applied EMRSteps into driver pods, and how many steps a minute
it runs.

eval "$(cluster/env.sh)"
uv run python bench/step_submit.py [--steps=200] [--concurrency=256] [--timeout=600] [--profile=FILE]

One EMRCluster (stepConcurrency = --concurrency) receives --steps EMRSteps at once; kwok runs each driver
for 1 s. Prints apply → driver pod created (p50/p99/max, first seen on a pod watch), steps completed per
minute, the operator's CPU through the burst and its reconciles and API requests (from its metrics); with
--profile, a py-spy profile of the operator through the burst.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from bench_support import PodRecorder, as_dict, cpu_seconds, metric_sum, percentile, py_spy  # noqa: E402

from support.emr import cluster_manifest, step_manifest  # noqa: E402
from support.operator import OperatorProcess  # noqa: E402

GROUP, VERSION = "kemr.io", "v1alpha1"


def wait(what: str, probe: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.25)


def print_operator_work(metrics: str) -> None:
    """What the operator did for the run (its whole life: the cluster's start too), from its metrics."""
    reconciles = metric_sum(metrics, "kemr_reconciles_total", "kind")
    requests = metric_sum(metrics, "kemr_api_requests_total", "verb")
    found = re.search(r"^kemr_api_throttle_seconds_total (\S+)$", metrics, re.MULTILINE)
    throttled = float(found[1]) if found else 0.0
    print(
        "operator: reconciles "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(reconciles.items()))
        + "; API requests "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(requests.items()))
        + f"; client-side rate limit waits {throttled:.1f} s (summed over requests)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--profile",
        type=Path,
        help="file for a py-spy profile of the operator through the burst (read by bench/profile_top.py)",
    )
    args = parser.parse_args()

    kubeconfig = Path(os.environ.get("KUBECONFIG") or config.KUBE_CONFIG_DEFAULT_LOCATION).expanduser()
    config.load_kube_config(str(kubeconfig))
    core, custom = client.CoreV1Api(), client.CustomObjectsApi()
    namespace = f"bench-steps-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    operator = OperatorProcess(kubeconfig, Path(tempfile.mkdtemp()) / "operator.log")
    operator.start()
    recorder = PodRecorder(
        core, namespace, "kemr.io/role=driver", lambda pod: pod.metadata.labels["kemr.io/step"]
    )
    try:
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "emrclusters",
            cluster_manifest("bench", stepConcurrency=args.concurrency),
        )

        def cluster_ready() -> bool:
            obj = as_dict(
                custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "emrclusters", "bench")
            )
            return bool((obj.get("status") or {}).get("state") == "WAITING")

        wait("the cluster to be WAITING", cluster_ready, args.timeout)
        recorder.start()
        assert operator.proc is not None
        pid = operator.proc.pid
        cpu = cpu_seconds(pid)
        profile: AbstractContextManager[list[str]] = (
            py_spy(pid, args.profile) if args.profile else nullcontext([])
        )
        with profile as errors:
            applied: dict[str, float] = {}
            started = time.monotonic()
            for i in range(args.steps):
                name = f"s{i:04d}"
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, "emrsteps", step_manifest(name, "bench", duration="1s")
                )
                applied[name] = time.monotonic()
            apply_seconds = time.monotonic() - started

            def all_completed() -> bool:
                items = as_dict(custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "emrsteps"))[
                    "items"
                ]
                done = [s for s in items if (s.get("status") or {}).get("state") == "COMPLETED"]
                return bool(len(done) == args.steps)

            wait(f"{args.steps} steps COMPLETED", all_completed, args.timeout)
            elapsed = time.monotonic() - started
            burst_cpu = cpu_seconds(pid) - cpu
        latencies = [recorder.seen[n] - t for n, t in applied.items() if n in recorder.seen]
        print(f"steps: {args.steps}, stepConcurrency: {args.concurrency}, created in {apply_seconds:.1f} s")
        print(
            f"apply → driver pod created: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
            f"({len(latencies)} pods seen)"
        )
        print(f"all completed after {elapsed:.1f} s: {args.steps / elapsed * 60:.0f} steps/minute sustained")
        print(f"operator CPU through the burst: {burst_cpu:.1f} s")
        print_operator_work(operator.metrics())
        if args.profile:
            print(f"profile: {args.profile}" if not errors else f"py-spy failed: {errors[0]}")
    finally:
        recorder.stop.set()
        operator.stop()
        core.delete_namespace(namespace)


if __name__ == "__main__":
    main()
