"""`kemr run`: the operator process. kopf watches the custom resources, logs in, serves the liveness probe and
handles signals; our informers watch the children by label; workers reconcile keys from one work queue."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import kopf
from prometheus_client import start_http_server

from kemr.api import STEP_FINAL_STATES
from kemr.api.constants import (
    CATALOG_KIND,
    CATALOG_PLURAL,
    CLUSTER_KIND,
    CLUSTER_PLURAL,
    GROUP,
    LABEL_CATALOG,
    LABEL_CLUSTER,
    LABEL_MANAGED_BY,
    LABEL_NOTEBOOK,
    LABEL_STEP,
    MANAGED_BY,
    NOTEBOOK_KIND,
    NOTEBOOK_PLURAL,
    STEP_KIND,
    STEP_PLURAL,
    VERSION,
)
from kemr.apply.desired import DesiredChildren
from kemr.apply.events import EventRecorder
from kemr.apply.ssa import Fingerprints
from kemr.config import OperatorConfig, load_config
from kemr.controllers.catalog import clusters_using
from kemr.controllers.cluster import APPLIED_KINDS
from kemr.controllers.webhook import WebhookOptions, WebhookServer
from kemr.metrics import RECONCILE_SECONDS, RECONCILES
from kemr.resolve import Resolutions
from kemr.runtime.client import Client, KubeClient
from kemr.runtime.informer import Informer
from kemr.runtime.kinds import kind_named
from kemr.runtime.leader import LeaderElector
from kemr.runtime.queue import WorkQueue
from kemr.runtime.ratelimit import TokenBucket
from kemr.runtime.store import Store

log = logging.getLogger("kemr")

# Children the operator watches (by label app.kubernetes.io/managed-by=kemr): those it applies and prunes, and
# the pods and volume claims it observes.
CHILD_KINDS = (*APPLIED_KINDS, "Pod", "PersistentVolumeClaim")
SAFETY_RESYNC_SECONDS = 300.0  # level-triggered safety net; child events are the main path
EVENTS_DRAIN_SECONDS = 5.0  # on shutdown, the queued Events get this long to be posted
MAX_BACKOFF_SECONDS = 60.0

FINAL_STEP_STATES = frozenset(s.value for s in STEP_FINAL_STATES)
WorkKey = tuple[str, str, str]  # (kind, namespace, name)
Reconciler = Callable[["Context", str, str], Awaitable[float | None]]


@dataclass
class Options:
    namespaces: list[str]
    kubeconfig: str | None
    qps: float = 100.0
    burst: int = 200
    workers: int = 4
    leader_election: bool = True
    leader_election_namespace: str = "default"
    resync_seconds: float = SAFETY_RESYNC_SECONDS
    webhook: WebhookOptions | None = None


@dataclass
class Context:
    kube: Client
    store: Store
    queue: WorkQueue[WorkKey]
    config: OperatorConfig
    options: Options
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    elector: LeaderElector | None = None
    failures: dict[WorkKey, int] = field(default_factory=dict)
    locks: defaultdict[tuple[str, str], asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )
    # Per EMRCluster (namespace, name): its children's fingerprints (apply/ssa.py, drift repair) and when they
    # were last re-applied in full.
    fingerprints: defaultdict[tuple[str, str], Fingerprints] = field(
        default_factory=lambda: defaultdict(dict)
    )
    last_full_apply: dict[tuple[str, str], float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    # Each EMRCluster resolved once per spec, generation and sizes (kemr.resolve.memo), shared by its
    # reconciles and its steps' (controllers/cluster.py `resolved_cluster`, kemr.status.plan `plan_cluster`).
    resolutions: Resolutions = field(default_factory=Resolutions)
    # Each EMRCluster's children as applied (owned, hashed), built once per resolution (kemr.apply.desired).
    desired: DesiredChildren = field(default_factory=DesiredChildren)
    # Namespace → the store's revision of its EMRClusters when they were last counted per state (the
    # CLUSTERS gauge, controllers/cluster.py `_count_states`).
    counted_revisions: dict[str, int] = field(default_factory=dict)
    # EMRCluster uid → the last Warning its history server's reconcile posted (kemr.controllers.history).
    history_events: dict[str, str] = field(default_factory=dict)
    # DataCatalogs' database Secrets known to exist: (namespace, name).
    catalog_secrets: set[tuple[str, str]] = field(default_factory=set)
    # Events on kemr's objects: posted at once through `kube` unless `startup` replaces it with a recorder
    # posting in the background under its own rate limit.
    events: EventRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.events = EventRecorder(self.kube)


def reconcilers() -> dict[str, Reconciler]:
    from kemr.controllers.catalog import reconcile_catalog
    from kemr.controllers.cluster import reconcile_cluster
    from kemr.controllers.notebook import reconcile_notebook
    from kemr.controllers.step import reconcile_step

    return {
        CLUSTER_KIND: reconcile_cluster,
        STEP_KIND: reconcile_step,
        CATALOG_KIND: reconcile_catalog,
        NOTEBOOK_KIND: reconcile_notebook,
    }


# A child's event wakes its owner this much later, so the events that come together (a pod's
# Pending → Running → Ready, a StatefulSet's pods one after another, the 14 pods of a cluster) make one
# reconcile rather than one each: 63 cluster reconciles per cluster in bench/compare.py's burst of 30 without
# it, 20 with it. kopf batches an object's own events the same way (settings.batching.batch_window, 0.1 s);
# an EMRCluster's or EMRStep's own changes still wake it at once.
CHILD_EVENT_BATCH_SECONDS = 0.5


def wake_owner(queue: WorkQueue[WorkKey], obj: Mapping[str, Any]) -> None:
    """A child changed: reconcile the EMRCluster (and the EMRStep or EMRNotebook), or the DataCatalog, it
    belongs to, CHILD_EVENT_BATCH_SECONDS from now (or sooner when already due). Runs in the event loop."""
    meta = obj["metadata"]
    labels = meta.get("labels") or {}
    owners = (
        (CATALOG_KIND, LABEL_CATALOG),
        (NOTEBOOK_KIND, LABEL_NOTEBOOK),
        (CLUSTER_KIND, LABEL_CLUSTER),
        (STEP_KIND, LABEL_STEP),
    )
    for kind, label in owners:
        if name := labels.get(label):
            queue.add_after((kind, meta["namespace"], name), CHILD_EVENT_BATCH_SECONDS)


def wake_cluster_and_steps(ctx: Context, namespace: str, cluster: str) -> None:
    """A cluster or one of its steps changed: the cluster's state and every unfinished step's place in the
    queue may have changed with it."""
    ctx.queue.add((CLUSTER_KIND, namespace, cluster))
    for step in ctx.store.all(STEP_KIND, namespace):
        status, spec = step.get("status") or {}, step.get("spec") or {}
        if (spec.get("clusterRef") or {}).get("name") == cluster and status.get(
            "state"
        ) not in FINAL_STEP_STATES:
            ctx.queue.add((STEP_KIND, namespace, step["metadata"]["name"]))


async def worker(ctx: Context, handlers: Mapping[str, Reconciler]) -> None:
    while True:
        key = await ctx.queue.get()
        kind, namespace, name = key
        started = time.monotonic()
        try:
            requeue = await handlers[kind](ctx, namespace, name)
            ctx.failures.pop(key, None)
            RECONCILES.labels(kind, "ok").inc()
            # The resync bounds every wait: a reconcile asking for a later one (an idle timer, a probe's
            # retry) is still reconciled within it, which makes the resync's full re-apply happen on time.
            resync = ctx.options.resync_seconds
            ctx.queue.add_after(key, resync if requeue is None else min(requeue, resync))
        except asyncio.CancelledError:
            raise
        except Exception:
            failures = ctx.failures[key] = ctx.failures.get(key, 0) + 1
            delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**failures)
            log.exception(
                "reconcile of %s %s/%s failed (attempt %d); retrying in %.1fs",
                kind,
                namespace,
                name,
                failures,
                delay,
            )
            RECONCILES.labels(kind, "error").inc()
            ctx.queue.add_after(key, delay)
        finally:
            RECONCILE_SECONDS.labels(kind).observe(time.monotonic() - started)
            ctx.queue.done(key)


async def start_informers(ctx: Context) -> list[Informer]:
    selector = f"{LABEL_MANAGED_BY}={MANAGED_BY}"
    namespaces: list[str | None] = list(ctx.options.namespaces) or [None]
    informers = [
        Informer(ctx.kube, kind_named(kind), ctx.store, selector, lambda o: wake_owner(ctx.queue, o), ns)
        for kind in CHILD_KINDS
        for ns in namespaces
    ]
    ctx.tasks += [asyncio.create_task(i.run(), name=f"informer-{i.kind.plural}") for i in informers]
    return informers


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # Explicit login: kopf's piggy-backing on the kubernetes client broke with client >= 36 (kopf#1307).
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    options: Options = memo["options"]
    settings.posting.enabled = False  # our own Events say what happened; kopf's would repeat its log
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.persistence.finalizer = f"{GROUP}/finalizer"  # never added: we have no state-changing handlers
    # Watching named namespaces, kopf would also list the cluster's namespaces and watch its CRDs:
    # cluster-wide reads that a namespaced operator's Roles don't grant (403 warnings). The CRDs exist before
    # the operator starts (Helm installs them first), so it does without.
    settings.scanning.disabled = bool(options.namespaces)
    kube = await KubeClient.connect(options.kubeconfig, options.qps, options.burst)
    ctx = Context(kube=kube, store=Store(), queue=WorkQueue[WorkKey](), config=load_config(), options=options)
    ctx.events = EventRecorder(kube.with_limiter(TokenBucket(options.qps, options.burst)))
    ctx.tasks += ctx.events.start()
    memo["ctx"] = ctx
    if options.webhook:  # every replica answers admission reviews, a standby too
        in_use = partial(clusters_using, ctx)
        server = WebhookServer(kube, ctx.config, options.webhook, in_use)
        ctx.tasks.append(asyncio.create_task(server.run(), name="webhook"))
    informers = await start_informers(ctx)
    try:  # reconcile only once the children are known, so the first round neither re-applies nor misjudges
        await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in informers)), timeout=60)
    except TimeoutError:
        log.warning("not every child informer synced within 60s; starting anyway")
    if options.leader_election:
        ctx.elector = LeaderElector(kube, options.leader_election_namespace)
    # Workers start once this process leads; until then it is a warm standby (caches filled, probes green).
    ctx.tasks.append(asyncio.create_task(lead(ctx), name="leader"))


async def lead(ctx: Context) -> None:
    if ctx.elector:
        await ctx.elector.acquire()
    handlers = reconcilers()
    workers = ctx.options.workers
    ctx.tasks += [asyncio.create_task(worker(ctx, handlers), name=f"worker-{n}") for n in range(workers)]
    log.info("kemr operator reconciling: namespaces=%s, %d workers", ctx.options.namespaces or "all", workers)
    if ctx.elector:
        await ctx.elector.keep()
        log.error("leadership lost: stopping so that only one operator writes")
        ctx.elector = None  # not ours to release any more
        os.kill(os.getpid(), signal.SIGTERM)


@kopf.on.probe(id="leaderElection")
def leader_election_probe(memo: kopf.Memo, **_: Any) -> str:
    """/healthz fails (HTTP 500) while this process neither leads nor can take part in the election (e.g. its
    Lease can't be read: RBAC, a missing namespace), so a stuck standby is restarted and seen, not idle."""
    ctx: Context | None = memo.get("ctx")
    why = ctx.elector.healthy() if ctx and ctx.elector else None
    if why:
        raise kopf.PermanentError(why)
    return "leading" if ctx and ctx.elector and ctx.elector.leading else "ok"


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    ctx: Context | None = memo.get("ctx")
    if ctx is None:
        return
    await ctx.events.drain(EVENTS_DRAIN_SECONDS)
    for task in ctx.tasks:
        task.cancel()
    await asyncio.gather(*ctx.tasks, return_exceptions=True)
    if ctx.elector:
        await ctx.elector.release()
    await ctx.kube.close()


def _on_resource_event(kind: str) -> Callable[..., None]:
    def handler(event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> None:
        ctx: Context | None = memo.get("ctx")
        if ctx is None:
            return
        obj = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, **dict(body)}
        meta = obj["metadata"]
        if event.get("type") == "DELETED":
            ctx.store.remove(kind, meta["namespace"], meta["name"])
        else:
            ctx.store.upsert(kind, obj)
        ctx.queue.add((kind, meta["namespace"], meta["name"]))
        if kind == CATALOG_KIND:  # the clusters using it wait for it
            for using in ctx.store.all(CLUSTER_KIND, meta["namespace"]):
                if ((using.get("spec") or {}).get("catalog") or {}).get("name") == meta["name"]:
                    ctx.queue.add((CLUSTER_KIND, meta["namespace"], using["metadata"]["name"]))
            return
        if kind == NOTEBOOK_KIND:  # its cluster: the idle rule reads its notebooks' activity
            if cluster := ((obj.get("spec") or {}).get("clusterRef") or {}).get("name"):
                ctx.queue.add((CLUSTER_KIND, meta["namespace"], cluster))
            return
        if kind == CLUSTER_KIND:  # its notebooks start, wait or detach with its state
            for notebook in ctx.store.notebooks_of(meta["namespace"], meta["name"]):
                ctx.queue.add((NOTEBOOK_KIND, meta["namespace"], notebook["metadata"]["name"]))
        if kind == CLUSTER_KIND and (catalog := ((obj.get("spec") or {}).get("catalog") or {}).get("name")):
            ctx.queue.add((CATALOG_KIND, meta["namespace"], catalog))  # its list of clusters, its deletion
        cluster = (
            meta["name"]
            if kind == CLUSTER_KIND
            else ((obj.get("spec") or {}).get("clusterRef") or {}).get("name")
        )
        if cluster:
            wake_cluster_and_steps(ctx, meta["namespace"], cluster)

    return handler


kopf.on.event(GROUP, VERSION, CLUSTER_PLURAL)(_on_resource_event(CLUSTER_KIND))
kopf.on.event(GROUP, VERSION, STEP_PLURAL)(_on_resource_event(STEP_KIND))
kopf.on.event(GROUP, VERSION, CATALOG_PLURAL)(_on_resource_event(CATALOG_KIND))
kopf.on.event(GROUP, VERSION, NOTEBOOK_PLURAL)(_on_resource_event(NOTEBOOK_KIND))


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kemr run", description="Run the kemr operator.")
    p.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    p.add_argument(
        "--kubeconfig", default=os.environ.get("KUBECONFIG"), help="default: in-cluster service account"
    )
    p.add_argument("--metrics-port", type=int, default=8080, help="Prometheus metrics on :PORT/metrics")
    p.add_argument("--health-port", type=int, default=8081, help="liveness/readiness on :PORT/healthz")
    p.add_argument("--qps", type=float, default=100.0, help="client-side API request rate limit")
    p.add_argument("--burst", type=int, default=200, help="client-side API request burst")
    p.add_argument("--workers", type=int, default=4, help="reconciles running at once")
    p.add_argument(
        "--resync-seconds",
        type=float,
        default=SAFETY_RESYNC_SECONDS,
        help="reconcile every object at least this often, re-applying children changed by hand (default 300)",
    )
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="elect one active operator on a Lease (default: on)",
    )
    p.add_argument(
        "--leader-election-namespace",
        default=os.environ.get("POD_NAMESPACE", "default"),
        help="namespace of the Lease kemr-operator (default: $POD_NAMESPACE or default)",
    )
    p.add_argument(
        "--webhook-port",
        type=int,
        default=0,
        help="serve the validating admission webhook over HTTPS on PORT (default 0: off)",
    )
    p.add_argument(
        "--webhook-configuration",
        help="ValidatingWebhookConfiguration whose caBundle the operator keeps (the chart's)",
    )
    p.add_argument(
        "--webhook-secret",
        default="kemr-webhook-cert",
        help="Secret in the operator's namespace ($POD_NAMESPACE) holding the webhook's certificate",
    )
    p.add_argument(
        "--webhook-dns-name",
        action="append",
        default=[],
        help="a name the apiserver calls the webhook by, e.g. kemr-webhook.kemr-system.svc (repeatable)",
    )
    p.add_argument("--log-format", choices=["json", "plain"], default="plain")
    p.add_argument("--verbose", "-v", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv or [])
    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.PLAIN,
        log_prefix=True,
    )
    if args.kubeconfig:  # kopf's own login reads $KUBECONFIG
        os.environ["KUBECONFIG"] = args.kubeconfig
    start_http_server(args.metrics_port)
    options = Options(
        namespaces=args.namespace,
        kubeconfig=args.kubeconfig,
        qps=args.qps,
        burst=args.burst,
        workers=args.workers,
        resync_seconds=args.resync_seconds,
        leader_election=args.leader_elect,
        leader_election_namespace=args.leader_election_namespace,
        webhook=WebhookOptions(
            port=args.webhook_port,
            namespace=os.environ.get("POD_NAMESPACE", "default"),
            secret=args.webhook_secret,
            configuration=args.webhook_configuration,
            dns_names=args.webhook_dns_name,
        )
        if args.webhook_port
        else None,
    )
    kopf.run(
        standalone=True,  # one active replica (Deployment strategy Recreate); no kopf peering objects needed
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=f"http://0.0.0.0:{args.health_port}/healthz",
        memo=kopf.Memo(options=options),
    )
    return 0
