"""Benchmark: apply N EMRClusters and time each one to all of its children and to WAITING; count API writes.

eval "$(cluster/env.sh)"
uv run python bench/cluster_apply.py [--clusters=50] [--interval=0] [--timeout=300]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import urllib3
import yaml
from kubernetes import client, config

from kemr.api import EMRClusterSpec
from kemr.builders import build_children
from kemr.config import load_config
from kemr.resolve import resolve_cluster

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from bench_support import watch_objects  # noqa: E402

from support.operator import OperatorProcess  # noqa: E402

GROUP, VERSION, PLURAL, LABEL = "kemr.io", "v1alpha1", "emrclusters", "kemr.io/cluster"
WRITES = ("PATCH", "POST", "DELETE")
QUIET_SECONDS = 5.0  # settled: no API write from the operator for this long
SSA: dict[str, Any] = {"field_manager": "kemr-bench", "force": True}
SSA["_content_type"] = "application/apply-patch+yaml"
Times = dict[str, float]  # cluster name -> time.monotonic()


class Recorder:
    """First-seen times from the watches: each cluster's last expected child, and its state WAITING."""

    def __init__(self, expected: dict[str, set[tuple[str, str]]]) -> None:
        self.expected, self.lock = expected, threading.Lock()
        self.seen: dict[str, set[tuple[str, str]]] = {n: set() for n in expected}
        self.children_at: Times = {}
        self.waiting_at: Times = {}
        self.errors: list[str] = []

    def on_event(self, kind: str, obj: dict[str, Any]) -> None:
        now, meta = time.monotonic(), obj["metadata"]
        with self.lock:
            if kind == "EMRCluster" and (obj.get("status") or {}).get("state") == "WAITING":
                self.waiting_at.setdefault(meta["name"], now)
            elif kind != "EMRCluster" and (name := meta["labels"][LABEL]) in self.seen:
                self.seen[name].add((kind, meta["name"]))
                if self.expected[name] <= self.seen[name]:
                    self.children_at.setdefault(name, now)


def watch_kind(kind: str, list_fn: Callable[..., Any], rec: Recorder, stop: threading.Event) -> None:
    def on_event(type_: str, obj: dict[str, Any]) -> None:
        if type_ in ("ADDED", "MODIFIED"):
            rec.on_event(kind, obj)

    watch_objects(list_fn, on_event, stop, rec.errors, kind)


def counts(op: OperatorProcess) -> dict[str, float]:
    """API requests by verb, 'errors' (non-2xx), 'throttled' (seconds waited for the client-side rate
    limiter) and 'reconciles', from the operator's metrics."""
    out = {"errors": 0.0, "reconciles": 0.0, "throttled": 0.0}
    for line in op.metrics().splitlines():
        if m := re.match(r"kemr_api_requests_total\{(.*)\} (\S+)$", line):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m[1]))
            out[labels["verb"]] = out.get(labels["verb"], 0.0) + float(m[2])
            out["errors"] += 0.0 if labels["code"].startswith("2") else float(m[2])
        elif m := re.match(r"kemr_reconciles_total\{.*\} (\S+)$", line):
            out["reconciles"] += float(m[1])
        elif m := re.match(r"kemr_api_throttle_seconds_total (\S+)$", line):
            out["throttled"] = float(m[1])
    return out


def check(op: OperatorProcess, intruders: set[str]) -> None:
    """Stops if our operator exited; notes other `kemr run` processes watching all namespaces (these reconcile
    the bench's clusters too, so the figures are skewed)."""
    if op.proc and op.proc.poll() is not None:
        raise SystemExit(f"the operator exited ({op.proc.returncode}); see {op.log_path}")
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    intruders.update(
        p.strip()[:150] for p in ps.splitlines() if "kemr.cli run" in p and "--namespace" not in p
    )


def settle(op: OperatorProcess, before: dict[str, float], deadline: float, bad: set[str]) -> dict[str, float]:
    """Waits until the operator sent no write for QUIET_SECONDS; returns the counts since `before`."""
    last, since = counts(op), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < QUIET_SECONDS:
        time.sleep(0.5)
        check(op, bad)
        if any((now := counts(op)).get(v) != last.get(v) for v in WRITES):
            last, since = now, time.monotonic()
    return {k: last.get(k, 0.0) - before.get(k, 0.0) for k in (*WRITES, "errors", "reconciles", "throttled")}


def report(what: str, start: Times, end: Times) -> None:
    lat = sorted(end[c] - start[c] for c in start if c in end)
    at = [lat[max(0, math.ceil(q * len(lat)) - 1)] for q in (0.5, 0.95)] if lat else [math.nan] * 2
    tail = f"max {max(lat, default=math.nan):.2f}s  ({len(lat)}/{len(start)} clusters)"
    print(f"apply -> {what:<13} p50 {at[0]:.2f}s  p95 {at[1]:.2f}s  {tail}")


def run(args: argparse.Namespace, ns: str, op: OperatorProcess) -> None:
    base = yaml.safe_load((REPO / "manifests/examples/emrcluster-basic.yaml").read_text())
    spec, cfg = EMRClusterSpec.model_validate(base["spec"]), load_config()
    names = [f"c{i:03d}" for i in range(args.clusters)]
    built = {n: build_children(resolve_cluster(n, ns, "uid", spec, cfg)) for n in names}
    expected = {n: {(c["kind"], c["metadata"]["name"]) for c in built[n]} for n in names}
    kinds = ", ".join(sorted({kind for kind, _ in expected[names[0]]}))
    print(f"children per cluster: {len(expected[names[0]])} ({kinds})")
    rec, stop = Recorder(expected), threading.Event()
    apps, core, custom = client.AppsV1Api(), client.CoreV1Api(), client.CustomObjectsApi()
    listers: dict[str, Callable[..., Any]] = {
        "StatefulSet": apps.list_namespaced_stateful_set,
        "Deployment": apps.list_namespaced_deployment,
        "Service": core.list_namespaced_service,
        "ConfigMap": core.list_namespaced_config_map,
        "ServiceAccount": core.list_namespaced_service_account,
        "PodDisruptionBudget": client.PolicyV1Api().list_namespaced_pod_disruption_budget,
        "NetworkPolicy": client.NetworkingV1Api().list_namespaced_network_policy,
    }
    watched = {kind: partial(fn, ns, label_selector=LABEL) for kind, fn in listers.items()}
    watched["EMRCluster"] = partial(custom.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL)
    for kind, fn in watched.items():
        threading.Thread(target=watch_kind, args=(kind, fn, rec, stop), daemon=True).start()
    time.sleep(1.0)  # let every watch connect, so that event times are receipt times
    applied: Times = {}

    def apply(name: str) -> None:  # server-side apply, as `kubectl apply --server-side` sends it
        body = {**base, "metadata": {"name": name, "namespace": ns}}
        custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, body, **SSA)
        applied[name] = time.monotonic()

    intruders: set[str] = set()
    check(op, intruders)
    deadline, before = args.deadline, counts(op)
    with ThreadPoolExecutor(max_workers=min(len(names), 50)) as pool:  # default: every apply at once
        futures = []
        for name in names:
            if time.monotonic() > deadline:
                break
            futures.append(pool.submit(apply, name))
            time.sleep(args.interval if name != names[-1] else 0)
        for future in futures:
            future.result()
    while time.monotonic() < deadline and min(len(rec.children_at), len(rec.waiting_at)) < len(names):
        check(op, intruders)  # the times come from the watch threads: polling slowly here is fine
        time.sleep(0.5)
    d = settle(op, before, deadline, intruders)
    stop.set()
    if rec.errors:
        print(f"WARNING: {len(rec.errors)} watch errors (times may be late), first: {rec.errors[0]}")
    report("all children", applied, rec.children_at)
    report("WAITING", applied, rec.waiting_at)
    per = "  ".join(f"{v} {d[v] / len(names):.2f}" for v in WRITES)
    print(f"API writes per cluster: {per}  (total {sum(d[v] for v in WRITES) / len(names):.2f})", end="")
    print(f"; all: {', '.join(f'{v} {d[v]:.0f}' for v in WRITES)}; non-2xx {d['errors']:.0f}")
    print(f"operator: {d['reconciles']:.0f} reconciles, {d['throttled']:.1f}s waited for its rate limiter")

    before = counts(op)  # a no-op reconcile: metadata changes, spec (generation) does not
    touch = {"metadata": {"annotations": {"bench.kemr.io/touched": str(time.time())}}}
    custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, names[0], touch)
    while time.monotonic() < deadline and counts(op)["reconciles"] == before["reconciles"]:
        time.sleep(0.1)
    d = settle(op, before, deadline, intruders)
    writes = ", ".join(f"{v} {d[v]:.0f}" for v in WRITES)
    print(f"no-op resync (annotation on {names[0]}): {d['reconciles']:.0f} reconciles, writes: {writes}")
    if intruders:
        warning = (
            "WARNING: other operators watching all namespaces ran; they may have reconciled these clusters"
        )
        print("\n  ".join([warning, *sorted(intruders)]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clusters", type=int, default=50, help="EMRClusters to apply (default 50)")
    p.add_argument("--interval", type=float, default=0.0, help="seconds between applies (default 0: at once)")
    p.add_argument("--timeout", type=float, default=300.0, help="overall bound in seconds (default 300)")
    args = p.parse_args()
    args.deadline = time.monotonic() + args.timeout  # for the whole run but the final cleanup
    if not (kubeconfig := os.environ.get("KUBECONFIG")):
        p.error('no $KUBECONFIG: run eval "$(cluster/env.sh)" first')
    config.load_kube_config(config_file=kubeconfig)
    conf = client.Configuration.get_default_copy()
    if urlparse(conf.host).hostname not in ("127.0.0.1", "localhost", "::1"):
        p.error(f"refusing to run against a non-local apiserver: {conf.host}")
    conf.connection_pool_maxsize = 64  # a connection per concurrent apply and per watch
    client.Configuration.set_default(conf)
    crds = ["kubectl", f"--kubeconfig={kubeconfig}", "apply", "--server-side", "--force-conflicts"]
    subprocess.run([*crds, "-f", str(REPO / "crds")], check=True, capture_output=True, timeout=60)
    ns, core = f"bench-{secrets.token_hex(3)}", client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    log = Path(tempfile.mkdtemp(prefix="kemr-bench-")) / "operator.log"
    op = OperatorProcess(Path(kubeconfig), log, (f"--namespace={ns}",))  # only this namespace
    print(f"namespace {ns}, {args.clusters} clusters, interval {args.interval}s; operator log {log}")
    try:
        op.start()
        run(args, ns, op)
    except (client.ApiException, urllib3.exceptions.HTTPError, OSError) as err:  # e.g. the cluster went away
        print(f"aborted: {type(err).__name__}: {str(err).splitlines()[0]}")
        return 1
    finally:
        try:
            core.delete_namespace(ns)
        except Exception as err:
            print(f"could not delete namespace {ns}: {str(err).splitlines()[0]}")
        op.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
