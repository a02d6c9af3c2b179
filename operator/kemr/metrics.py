"""Prometheus metrics of the operator (exposed by `kemr run` on --metrics-port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter("kemr_reconciles_total", "Reconciles run, by kind and result", ["kind", "result"])
RECONCILE_SECONDS = Histogram(
    "kemr_reconcile_duration_seconds",
    "Duration of one reconcile, by kind",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
API_REQUESTS = Counter(
    "kemr_api_requests_total", "Kubernetes API requests, by verb and status code", ["verb", "code"]
)
API_THROTTLE_SECONDS = Counter(
    "kemr_api_throttle_seconds_total", "Seconds API requests waited for the client-side rate limiter"
)
CLUSTERS = Gauge("kemr_clusters", "EMRClusters by state", ["namespace", "state"])
STEPS = Gauge("kemr_steps", "EMRSteps by state", ["namespace", "state"])
STEP_DURATION_SECONDS = Histogram(
    "kemr_step_duration_seconds",
    "Duration of finished step attempts, by final state",
    ["state"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
)
STEP_SUBMIT_LATENCY_SECONDS = Histogram(
    "kemr_step_submit_latency_seconds",
    "From a step attempt being recorded to its driver pod being created",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
TASK_DESIRED = Gauge(
    "kemr_task_group_desired_replicas",
    "Task pods managed scaling wants per task group",
    ["namespace", "cluster", "group"],
)
SPOT_FALLBACK_PODS = Gauge(
    "kemr_spot_fallback_pods",
    "Pods of a spot task group running on on-demand capacity (spot fallback)",
    ["namespace", "cluster", "group"],
)
TASK_DEMAND_CORES = Gauge(
    "kemr_scaling_demand_cores",
    "Executor cores the running and startable steps ask for (managed scaling's input)",
    ["namespace", "cluster"],
)
SCALING_DECISIONS = Counter(
    "kemr_scaling_decisions_total",
    "Scaling and spot fallback decisions that changed a group, by reason",
    ["namespace", "reason"],
)
LEADER = Gauge("kemr_leader", "1 while this process holds the leader Lease, else 0")
LEADER_ELECTION_ERRORS = Counter(
    "kemr_leader_election_errors_total",
    "Failed attempts to read, take or renew the leader Lease (RBAC, a missing namespace, API errors)",
)
ADMISSION_REVIEWS = Counter(
    "kemr_admission_reviews_total",
    "Creates and spec updates checked by the validating webhook, by kind and verdict (allowed, refused)",
    ["kind", "verdict"],
)
