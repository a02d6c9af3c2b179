"""CPU per cluster reconcile, in process, against the in-memory apiserver (tests/support/fake_api.py): no
cluster, no network, so the figure is the operator's own work (validate, resolve, build, diff), the part
profiling can move. `--profile` prints cProfile's top functions of the no-op round.

Creates `--clusters` EMRClusters like manifests/examples/emrcluster-basic.yaml (distinct names), reconciles
each once (children built and applied), lets the store catch up as the informers would, then reconciles each
again with nothing changed (what every resync and every child event costs), and prints CPU ms per cluster for
both rounds (median of `--rounds`).

    uv run python bench/reconcile_cpu.py --clusters=50 [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kemr.config import OperatorConfig  # noqa: E402
from kemr.controllers.cluster import reconcile_cluster  # noqa: E402
from kemr.controllers.run import Context, Options  # noqa: E402
from kemr.runtime.queue import WorkQueue  # noqa: E402
from kemr.runtime.store import Store  # noqa: E402
from support.emr import cluster_manifest  # noqa: E402
from support.fake_api import FakeApi  # noqa: E402


def context(clusters: int) -> tuple[Context, FakeApi]:
    api = FakeApi()
    options = Options(namespaces=[], kubeconfig=None)
    ctx = Context(kube=api, store=Store(), queue=WorkQueue(), config=OperatorConfig(), options=options)
    for i in range(clusters):
        manifest = cluster_manifest(f"c{i}")
        manifest["metadata"]["namespace"] = "ns"
        ctx.store.upsert("EMRCluster", api.put(manifest, "emrclusters", base="/apis/kemr.io/v1alpha1"))
    return ctx, api


def catch_up(ctx: Context, api: FakeApi) -> None:
    """What the informers do: the store gets what the apiserver holds."""
    for (_, plural, _, _), obj in api.objects.items():
        ctx.store.upsert("EMRCluster" if plural == "emrclusters" else obj["kind"], obj)


def cpu_ms_per_cluster(ctx: Context, clusters: int, profile: cProfile.Profile | None = None) -> float:
    async def each() -> None:
        for i in range(clusters):
            await reconcile_cluster(ctx, "ns", f"c{i}")

    started = time.process_time()
    if profile:
        profile.enable()
    asyncio.run(each())
    if profile:
        profile.disable()
    return (time.process_time() - started) * 1000 / clusters


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    first, noop = [], []
    for _ in range(args.rounds):
        ctx, api = context(args.clusters)
        first.append(cpu_ms_per_cluster(ctx, args.clusters))
        catch_up(ctx, api)
        noop.append(cpu_ms_per_cluster(ctx, args.clusters))
    print(f"{args.clusters} clusters, median of {args.rounds} rounds, CPU per cluster reconcile:")
    print(f"  first (children built and applied): {statistics.median(first):.1f} ms")
    print(f"  no-op (nothing changed):            {statistics.median(noop):.1f} ms")
    if args.profile:
        profile = cProfile.Profile()
        cpu_ms_per_cluster(ctx, args.clusters, profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
