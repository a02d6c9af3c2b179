"""Benchmark: kemr beside KubeRay's ray-operator on the same cluster, one operator at a time, one table.

eval "$(cluster/env.sh)"
uv run python bench/compare.py [--trials=20] [--bursts=30,100,300] [--only=kemr|kuberay] [--timeout=600]
                               [--profile=DIR]

Each operator runs as a host process watching only a fresh namespace of its own (kemr: `kemr run
--namespace`, no leader election, no webhook; KubeRay: its binary from bench/peers/build-kuberay.sh with
`--enable-leader-election=false --watch-namespace`). A cluster is 14 pods: kemr 1 master, a core group of 3
and a task group of 10 (Spark only, fixed sizes); Ray 1 head and a worker group of 13; the same requests per
pod. Per operator: `--trials` single clusters one after another (apply → all 14 pods exist, then deleted and
gone), then each burst of clusters applied at once (apply → all pods exist, p50/p95), the operator's CPU
seconds and peak RSS (/proc), its API writes (its own metrics), and its writes in an idle minute after the
first burst.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import urllib3
from kubernetes import client, config

from kemr.api import EMRClusterSpec
from kemr.builders import build_children
from kemr.config import load_config
from kemr.resolve import resolve_cluster

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from bench_support import as_dict, cpu_seconds, metric_sum, percentile, py_spy, watch_objects  # noqa: E402

from support.operator import OperatorProcess, free_port  # noqa: E402

PODS = 14  # per cluster, both operators
WRITES = ("POST", "PUT", "PATCH", "DELETE")
QUIET_SECONDS = 3.0  # settled: no API write from the operator for this long
SSA: dict[str, Any] = {"field_manager": "kemr-bench", "force": True}
SSA["_content_type"] = "application/apply-patch+yaml"
# The same pod sizes for both: kemr's smallest (its master needs 512Mi for the Spark master, a worker 2Gi to
# offer executors 512Mi). Placement as kemr's on-demand groups get it on the local cluster: the on-demand kwok
# nodes (the spot ones are tainted, the real node too).
SMALL = {"cpu": "100m", "memory": "512Mi"}
WORKER = {"cpu": "100m", "memory": "2Gi"}
ON_DEMAND = {"karpenter.sh/capacity-type": "on-demand"}
RAY_VERSION = "2.46.0"  # only a label here: kwok runs no container, so the image is never pulled


def kemr_cluster(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "EMRCluster",
        "metadata": {"name": name},
        "spec": {
            "release": "kemr-1.0",
            "applications": ["Spark"],  # Ray has no HDFS either
            "master": {"resources": SMALL, "storage": {"size": "1Gi"}},
            "coreGroups": [{"name": "core", "replicas": 3, "resources": WORKER, "storage": {"size": "1Gi"}}],
            "taskGroups": [
                {
                    "name": "task",
                    "capacityType": "on-demand",
                    "minReplicas": 10,
                    "maxReplicas": 10,
                    "replicas": 10,
                    "resources": WORKER,
                }
            ],
            "managedScaling": {"enabled": False},
            "autoTermination": {"keepAliveWhenNoSteps": True},
        },
    }


def ray_pod(container: str, resources: dict[str, str]) -> dict[str, Any]:
    return {
        "spec": {
            "nodeSelector": ON_DEMAND,
            "containers": [
                {
                    "name": container,
                    "image": f"rayproject/ray:{RAY_VERSION}",
                    "resources": {"requests": resources, "limits": {"memory": resources["memory"]}},
                }
            ],
        }
    }


def ray_cluster(name: str) -> dict[str, Any]:
    """A minimal valid RayCluster (ray.io/v1 of KubeRay v1.5.0: headGroupSpec.template; per worker group
    groupName, min/maxReplicas, template)."""
    workers = PODS - 1
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {
            "rayVersion": RAY_VERSION,
            "headGroupSpec": {"rayStartParams": {}, "template": ray_pod("ray-head", SMALL)},
            "workerGroupSpecs": [
                {
                    "groupName": "workers",
                    "replicas": workers,
                    "minReplicas": workers,
                    "maxReplicas": workers,
                    "rayStartParams": {},
                    "template": ray_pod("ray-worker", WORKER),
                }
            ],
        },
    }


def kemr_pods(manifest: dict[str, Any]) -> int:
    """The pods kemr's builders give this EMRCluster (its StatefulSets' and Deployments' replicas)."""
    spec = EMRClusterSpec.model_validate(manifest["spec"])
    children = build_children(resolve_cluster(manifest["metadata"]["name"], "ns", "uid", spec, load_config()))
    return sum(c["spec"]["replicas"] for c in children if c["kind"] in ("StatefulSet", "Deployment"))


# --- the operators ------------------------------------------------------------------------------------------


class Operator(Protocol):
    log_path: Path

    def pid(self) -> int: ...

    def exit_code(self) -> int | None: ...

    def writes(self) -> dict[str, float]:
        """API requests sent so far, by write verb (any status code)."""
        ...

    def reconciles(self) -> float:
        """Cluster reconciles run so far (any result)."""
        ...

    def stop(self) -> None: ...


class Kemr:
    def __init__(self, kubeconfig: Path, namespace: str, log_path: Path) -> None:
        # As KubeRay is run: no leader election (nothing else should hold kemr's Lease back), no webhook.
        args = (f"--namespace={namespace}", "--no-leader-elect", "--webhook-port=0")
        self.op = OperatorProcess(kubeconfig, log_path, args)
        self.log_path = log_path
        self.op.start()

    def pid(self) -> int:
        assert self.op.proc
        return self.op.proc.pid

    def exit_code(self) -> int | None:
        return self.op.proc.poll() if self.op.proc else None

    def writes(self) -> dict[str, float]:
        return metric_sum(self.op.metrics(), "kemr_api_requests_total", "verb")

    def reconciles(self) -> float:
        return metric_sum(self.op.metrics(), "kemr_reconciles_total", "kind").get("EMRCLUSTER", 0.0)

    def stop(self) -> None:
        self.op.stop()


class KubeRay:
    def __init__(
        self, binary: Path, kubeconfig: Path, namespace: str, log_path: Path, timeout: float
    ) -> None:
        self.metrics_port, self.health_port, self.log_path = free_port(), free_port(), log_path
        cmd = [
            str(binary),
            f"--kubeconfig={kubeconfig}",
            "--enable-leader-election=false",
            f"--watch-namespace={namespace}",
            # off kemr's and the defaults 8080/8082 (the local cluster's components and tests may hold them)
            f"--metrics-addr=127.0.0.1:{self.metrics_port}",
            f"--health-probe-bind-address=127.0.0.1:{self.health_port}",
        ]
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"KubeRay's operator did not become healthy; log: {log_path}")
            time.sleep(0.2)
        # /healthz answers before the informers have synced: wait for the RayCluster controller's workers.
        # Its JSON log line names the logger before the message: {"logger":"controllers.RayCluster",
        # "msg":"Starting workers",...}.
        started = re.compile(
            r"controllers\.RayCluster\b.*Starting workers|Starting workers.*RayCluster", re.I
        )
        while not started.search(log_path.read_text()):
            if time.monotonic() > deadline:
                print(f"WARNING: KubeRay's RayCluster controller not seen starting; log: {log_path}")
                break
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def pid(self) -> int:
        return self.proc.pid

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def writes(self) -> dict[str, float]:
        # client-go's, all its clients
        return metric_sum(self.metrics(), "rest_client_requests_total", "method")

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            text: str = r.read().decode()
        return text

    def reconciles(self) -> float:
        by = metric_sum(self.metrics(), "controller_runtime_reconcile_total", "controller")
        return sum(count for controller, count in by.items() if "RAYCLUSTER" in controller)

    def stop(self) -> None:  # SIGTERM, as Kubernetes stops a pod
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass(frozen=True)
class Subject:
    """One operator under test: its custom resource, the pod label naming a cluster, how it starts."""

    title: str
    group: str
    version: str
    plural: str
    cluster_label: str
    manifest: Callable[[str], dict[str, Any]]
    crds: tuple[Path, ...]
    start: Callable[[str, Path], Operator]  # namespace, log path


# --- measuring ----------------------------------------------------------------------------------------------


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM) since it started or since reset_peak_rss."""
    m = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(m[1]) / 1024 if m else math.nan


def reset_peak_rss(pid: int) -> bool:
    """Sets VmHWM back to the current RSS (clear_refs 5), so a phase's peak is its own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PodTimes:
    """When each pod of each cluster (by the cluster label) was first seen on a watch."""

    def __init__(self, label: str) -> None:
        self.label, self.lock = label, threading.Lock()
        self.first_seen: dict[str, dict[str, float]] = {}
        self.errors: list[str] = []

    def on_event(self, type_: str, pod: dict[str, Any]) -> None:
        now, meta = time.monotonic(), pod["metadata"]
        if type_ in ("ADDED", "MODIFIED") and (cluster := (meta.get("labels") or {}).get(self.label)):
            with self.lock:
                self.first_seen.setdefault(cluster, {}).setdefault(meta["name"], now)

    def all_pods_at(self, cluster: str) -> float | None:
        """When the cluster's PODS-th pod was first seen."""
        with self.lock:
            times = sorted(self.first_seen.get(cluster, {}).values())
        return times[PODS - 1] if len(times) >= PODS else None


@dataclass
class Run:
    """One operator's run in its namespace: the API, the pod watch, its figures as table rows."""

    subject: Subject
    namespace: str
    operator: Operator
    pods: PodTimes
    timeout: float
    rows: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    peak_rss: float = 0.0  # the highest of the phases' peaks
    custom: Any = field(default_factory=client.CustomObjectsApi)
    profile_dir: Path | None = None  # --profile: py-spy's samples of each phase, kemr only

    def check(self) -> None:
        if (code := self.operator.exit_code()) is not None:
            raise SystemExit(f"{self.subject.title}'s operator exited ({code}); see {self.operator.log_path}")

    def apply(self, name: str) -> float:
        """Server-side applies one cluster; returns when the apply returned."""
        s = self.subject
        body = s.manifest(name)
        body["metadata"]["namespace"] = self.namespace
        self.custom.patch_namespaced_custom_object(
            s.group, s.version, self.namespace, s.plural, name, body, **SSA
        )
        return time.monotonic()

    def wait_for_pods(self, applied: dict[str, float]) -> list[float]:
        """Apply → all pods, per cluster (inf for one that had not all its pods within the timeout)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and any(self.pods.all_pods_at(n) is None for n in applied):
            self.check()
            time.sleep(0.2)
        done = {n: self.pods.all_pods_at(n) for n in applied}
        if missing := [n for n, t in done.items() if t is None]:
            self.warnings.append(
                f"{len(missing)}/{len(applied)} clusters without all {PODS} pods after {self.timeout:.0f}s"
                f" (first: {missing[0]})"
            )
        return [t - applied[n] if t is not None else math.inf for n, t in done.items()]

    def writes(self) -> float:
        counts = self.operator.writes()
        return sum(counts.get(v, 0.0) for v in WRITES)

    def settle(self) -> float:
        """Waits until the operator sent no write for QUIET_SECONDS (at most the timeout); its writes then."""
        last, since, deadline = self.writes(), time.monotonic(), time.monotonic() + self.timeout
        while time.monotonic() < deadline and time.monotonic() - since < QUIET_SECONDS:
            time.sleep(0.5)
            self.check()
            if (now := self.writes()) != last:
                last, since = now, time.monotonic()
        return last

    def delete_all(self) -> None:
        """Deletes every cluster of the namespace and waits until they and their pods are gone."""
        if not delete_clusters(self.subject, self.namespace, self.timeout, self.check):
            self.warnings.append(f"clusters or pods left after {self.timeout:.0f}s of deleting")

    @contextmanager
    def phase(self, label: str, clusters: int) -> Iterator[None]:
        """Rows for the block: the operator's CPU seconds, peak RSS and API writes per cluster."""
        pid = self.operator.pid()
        if not reset_peak_rss(pid) and "peak" not in " ".join(self.warnings):
            self.warnings.append(
                "could not reset VmHWM: each peak RSS is the peak since the operator started"
            )
        cpu, writes, reconciles = cpu_seconds(pid), self.writes(), self.operator.reconciles()
        with self.profiled(label, pid):
            yield
        self.rows[f"{label}: cluster reconciles per cluster"] = (
            self.operator.reconciles() - reconciles
        ) / clusters
        self.rows[f"{label}: operator CPU (s)"] = cpu_seconds(pid) - cpu
        self.rows[f"{label}: peak RSS (MiB)"] = peak = peak_rss_mib(pid)
        self.rows[f"{label}: API writes per cluster"] = (self.writes() - writes) / clusters
        self.peak_rss = max(self.peak_rss, peak)

    @contextmanager
    def profiled(self, label: str, pid: int) -> Iterator[None]:
        """With --profile, kemr's operator sampled by py-spy (100 Hz, the thread holding the GIL) through the
        block, into `<dir>/kemr-<label>.txt` in py-spy's raw format (one collapsed stack and its count per
        line, as flame graph tools read it); bench/profile_top.py prints its top functions."""
        if self.profile_dir is None or not isinstance(self.operator, Kemr):
            yield
            return
        out = self.profile_dir / f"kemr-{label.replace(' ', '-')}.txt"
        with py_spy(pid, out) as errors:
            yield
        if errors:
            self.warnings.append(f"py-spy of {label!r} failed: {errors[0]}")
        else:
            print(f"{self.subject.title}: {label}: profile {out}", flush=True)


def delete_clusters(subject: Subject, ns: str, timeout: float, check: Callable[[], None]) -> bool:
    """Deletes every cluster of the namespace; waits until they and their pods are gone (False: not all
    were within the timeout)."""
    custom, core, deadline = client.CustomObjectsApi(), client.CoreV1Api(), time.monotonic() + timeout
    custom.delete_collection_namespaced_custom_object(subject.group, subject.version, ns, subject.plural)

    def left() -> int:
        crs = as_dict(
            custom.list_namespaced_custom_object(subject.group, subject.version, ns, subject.plural)
        )
        pods = core.list_namespaced_pod(ns, label_selector=subject.cluster_label, limit=1)
        return len(crs["items"]) + len(pods.items)

    while left():
        if time.monotonic() > deadline:
            return False
        check()
        time.sleep(0.5)
    return True


def single_trials(run: Run, trials: int) -> None:
    """One cluster at a time: apply → all pods, settle, delete → gone, settle; a whole lifecycle each."""
    latencies: list[float] = []
    label = f"{trials} single clusters"
    with run.phase(label, trials):  # API writes per cluster: per lifecycle
        for i in range(trials):
            name = f"t{i:03d}"
            latencies += run.wait_for_pods({name: run.apply(name)})
            run.settle()
            run.delete_all()
            run.settle()
        run.rows[f"{label}: apply → all pods p50 (s)"] = percentile(latencies, 0.5)
        run.rows[f"{label}: apply → all pods p95 (s)"] = percentile(latencies, 0.95)


def burst(run: Run, size: int, idle_seconds: float) -> None:
    """`size` clusters applied at once (50 applies in flight), apply → all pods p50/p95; then, when
    `idle_seconds`, the operator's writes over that long with the clusters settled; then all deleted."""
    names = [f"b{size}-{i:03d}" for i in range(size)]
    label = f"{size} at once"
    with run.phase(label, size):
        with ThreadPoolExecutor(max_workers=min(size, 50)) as pool:
            applied = dict(zip(names, pool.map(run.apply, names), strict=True))
        latencies = run.wait_for_pods(applied)
        run.rows[f"{label}: apply → all pods p50 (s)"] = percentile(latencies, 0.5)
        run.rows[f"{label}: apply → all pods p95 (s)"] = percentile(latencies, 0.95)
        run.settle()
    if idle_seconds > 0:
        before = run.writes()
        time.sleep(idle_seconds)
        run.check()
        run.rows[f"idle, {size} clusters: API writes per minute"] = (
            (run.writes() - before) * 60 / idle_seconds
        )
    run.delete_all()
    run.settle()


def measure(subject: Subject, args: argparse.Namespace, log_dir: Path) -> Run | None:
    core = client.CoreV1Api()
    ns = f"bench-{subject.title.lower()}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    log = log_dir / f"{subject.title.lower()}.log"
    print(f"{subject.title}: namespace {ns}, operator log {log}", flush=True)
    pods, stop = PodTimes(subject.cluster_label), threading.Event()
    list_pods = partial(core.list_namespaced_pod, ns, label_selector=subject.cluster_label)
    threading.Thread(
        target=watch_objects, args=(list_pods, pods.on_event, stop, pods.errors, "pods"), daemon=True
    ).start()
    operator: Operator | None = None
    try:
        operator = subject.start(ns, log)
        run = Run(subject, ns, operator, pods, args.timeout, profile_dir=args.profile)
        single_trials(run, args.trials)
        for i, size in enumerate(args.bursts):
            burst(run, size, args.idle if i == 0 else 0.0)
        run.rows["whole run: operator CPU from its start (s)"] = cpu_seconds(operator.pid())
        run.rows["whole run: peak RSS (MiB)"] = run.peak_rss
        if pods.errors:
            run.warnings.append(f"{len(pods.errors)} pod watch errors (times may be late): {pods.errors[0]}")
        return run
    except (client.ApiException, urllib3.exceptions.HTTPError, OSError, RuntimeError) as err:
        print(f"{subject.title}: aborted: {type(err).__name__}: {str(err).splitlines()[0]}")
        return None
    finally:
        stop.set()
        cleanup(subject, ns, operator, args.timeout)


def cleanup(subject: Subject, ns: str, operator: Operator | None, timeout: float) -> None:
    """Clusters first, while their operator runs (finalizers, if any), then the operator, then the namespace,
    waited for: the next operator should not share the machine with this one's garbage collection."""
    try:
        if operator and operator.exit_code() is None:
            delete_clusters(subject, ns, timeout, lambda: None)
    except Exception as err:
        print(f"could not delete the clusters of {ns}: {str(err).splitlines()[0]}")
    if operator:
        operator.stop()
    core = client.CoreV1Api()
    try:
        core.delete_namespace(ns)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            core.read_namespace(ns)
            time.sleep(1.0)
        print(f"namespace {ns} still terminating after {timeout:.0f}s")
    except client.ApiException as err:
        if err.status != 404:
            print(f"could not delete namespace {ns}: {err.reason}")


# --- the report ---------------------------------------------------------------------------------------------


def fmt(value: float | None, timeout: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return f">{timeout:.0f}"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return "-"
    return f"{a / b:.2f}"


def table(runs: list[Run], timeout: float) -> str:
    rows: list[str] = []
    for run in runs:
        rows += [r for r in run.rows if r not in rows]
    head = ["", *(r.subject.title for r in runs)] + (["kemr/KubeRay"] if len(runs) == 2 else [])
    lines = [head]
    for row in rows:
        values = [run.rows.get(row) for run in runs]
        line = [row, *(fmt(v, timeout) for v in values)]
        if len(runs) == 2:
            line.append(ratio(*values))
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = m[1].strip() if (m := re.search(r"^model name\s*:(.*)$", cpuinfo, re.MULTILINE)) else "?"
    mem = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    gib = f", {int(mem[1]) / 2**20:.0f} GiB" if mem else ""
    return f"{model}, {os.cpu_count()} cores{gib}, {platform.system()} {platform.release()}"


def commit() -> str:
    git = ["git", "-C", str(REPO)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    return (head or "?") + (" (uncommitted changes)" if dirty.stdout.strip() else "")


def intruders() -> list[str]:
    """Other operators that would act on the bench's clusters: kemr or KubeRay watching all namespaces."""
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [
        p.strip()[:150]
        for p in ps.splitlines()
        if ("kemr.cli run" in p and "--namespace" not in p)
        or ("ray-operator" in p and "--watch-namespace" not in p)
    ]


def apply_crds(kubectl: str, kubeconfig: str, paths: list[Path]) -> None:
    """Applies the CRDs server-side (KubeRay's overflow a client-side apply's last-applied annotation) and
    waits until they are established."""
    base = [kubectl, f"--kubeconfig={kubeconfig}"]
    files = [a for p in paths for a in ("-f", str(p))]
    subprocess.run(
        [*base, "apply", "--server-side", "--force-conflicts", *files], check=True, capture_output=True
    )
    # Every CRD, not the files: crds/ also holds kemr's ValidatingAdmissionPolicy, which has no condition.
    established = ["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]
    subprocess.run([*base, *established], check=True, capture_output=True)


def build_kuberay() -> Path:
    """bench/peers/build-kuberay.sh: builds once (minutes), then only prints the cached binary's path."""
    out = subprocess.run(
        [str(REPO / "bench/peers/build-kuberay.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--trials", type=int, default=20, help="single-cluster lifecycles per operator (default 20)"
    )
    p.add_argument(
        "--bursts",
        type=lambda s: [int(n) for n in s.split(",") if n],
        default=[30, 100, 300],
        help="burst sizes, clusters applied at once (default 30,100,300)",
    )
    p.add_argument("--only", choices=["kemr", "kuberay"], help="run one operator only")
    p.add_argument(
        "--idle", type=float, default=60.0, help="seconds of idle writes after the first burst (60)"
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="bound of every wait in seconds (default 600)"
    )
    p.add_argument(
        "--profile",
        type=Path,
        help="directory for py-spy profiles of kemr's operator, one per phase (read by bench/profile_top.py)",
    )
    args = p.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if not (kubeconfig := os.environ.get("KUBECONFIG")):
        p.error('no $KUBECONFIG: run eval "$(cluster/env.sh)" first')
    if (pods := kemr_pods(kemr_cluster("c000"))) != PODS:
        p.error(f"the kemr cluster has {pods} pods, the Ray cluster {PODS}")
    config.load_kube_config(config_file=kubeconfig)
    conf = client.Configuration.get_default_copy()
    if urlparse(conf.host).hostname not in ("127.0.0.1", "localhost", "::1"):
        p.error(f"refusing to run against a non-local apiserver: {conf.host}")
    conf.connection_pool_maxsize = 64  # a connection per concurrent apply and per watch
    client.Configuration.set_default(conf)

    kubectl, log_dir = os.environ.get("KUBECTL", "kubectl"), Path(tempfile.mkdtemp(prefix="kemr-compare-"))
    kuberay_bin = build_kuberay() if args.only != "kemr" else Path()
    subjects = {
        "kemr": Subject(
            "kemr",
            "kemr.io",
            "v1alpha1",
            "emrclusters",
            "kemr.io/cluster",
            kemr_cluster,
            (REPO / "crds",),
            lambda ns, log: Kemr(Path(kubeconfig), ns, log),
        ),
        "kuberay": Subject(
            "KubeRay",
            "ray.io",
            "v1",
            "rayclusters",
            "ray.io/cluster",
            ray_cluster,
            (kuberay_bin.parent / "crds",),
            lambda ns, log: KubeRay(kuberay_bin, Path(kubeconfig), ns, log, args.timeout),
        ),
    }
    chosen = [s for key, s in subjects.items() if args.only in (None, key)]
    apply_crds(kubectl, kubeconfig, [path for s in chosen for path in s.crds])
    kube_version = client.VersionApi().get_code().git_version
    seen_intruders = intruders()
    runs = [run for s in chosen if (run := measure(s, args, log_dir))]

    print(f"\n{PODS} pods per cluster (kemr: 1 master, 3 core, 10 task; Ray: 1 head, 13 workers)")
    print(table(runs, args.timeout))
    for run in runs:
        for warning in run.warnings:
            print(f"WARNING: {run.subject.title}: {warning}")
    if seen_intruders := sorted({*seen_intruders, *intruders()}):
        print(
            "\n  ".join(["WARNING: operators watching all namespaces ran beside the bench:", *seen_intruders])
        )
    print(f"machine: {machine()}")
    peers = f"KubeRay {kuberay_bin.parent.name.removeprefix('kuberay-')}, " if args.only != "kemr" else ""
    print(f"kemr {commit()}, {peers}Kubernetes {kube_version}")
    print(f"command: {shlex.join(['python', *sys.argv])}")
    return 0 if len(runs) == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
