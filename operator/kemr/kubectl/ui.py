"""`kubectl emr ui TARGET`: the Spark UI of a cluster or a step, through `kubectl port-forward`; and
`kubectl emr notebook NAME`: an EMRNotebook's JupyterLab, the same way.

- an EMRCluster that runs: its Spark master's UI (the master pod's port 8080);
- an EMRStep whose driver runs: the driver's own UI (port 4040 of the driver pod, live);
- an EMRStep whose driver ended (also after its cluster terminated): the application in the cluster's Spark
  History Server (kemr.builders.history), which this requests by annotating the cluster and waits for.

Port forwarding is kubectl's own (`kubectl port-forward`): the user's kubeconfig, proxies and auth plugins
work as they do for kubectl, and no port is exposed in the cluster (the history server's NetworkPolicy
admits no connection at all).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kemr.api.constants import CLUSTER_KIND, LABEL_NOTEBOOK, LABEL_ROLE, ROLE_NOTEBOOK, STEP_KIND
from kemr.api.notebook import JUPYTER_PORT, NOTEBOOK_URL_PATH
from kemr.applications.spark import SPARK_MASTER_UI_PORT
from kemr.builders.driver import DRIVER_UI_PORT
from kemr.builders.history import HISTORY_REQUESTED_ANNOTATION, HISTORY_UI_PORT
from kemr.kubectl.kube import FIELD_MANAGER, Kube, PluginError
from kemr.observe import pod_ended_message

KIND_PREFIXES = {
    "emrcluster": CLUSTER_KIND,
    "cluster": CLUSTER_KIND,
    "emrstep": STEP_KIND,
    "step": STEP_KIND,
}
LIVE_CLUSTER_STATES = frozenset({"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"})
FORWARDING = re.compile(r"Forwarding from (\S+):(\d+) ->")
RESTART_PAUSE_S = 1.0  # between a kubectl port-forward that ended and the next


@dataclass(frozen=True)
class UiTarget:
    """A pod's port to forward, and the page to open there."""

    pod: str
    port: int
    path: str
    what: str  # "the Spark master UI of EMRCluster x"


def find_target(kube: Kube, namespace: str, target: str) -> tuple[str, dict[str, Any]]:
    """(kind, object) named by `target`: `NAME`, or `emrcluster/NAME` / `emrstep/NAME` (also `cluster/`,
    `step/`) when a cluster and a step share the name. Raises PluginError when neither or both exist."""
    prefix, _, rest = target.partition("/")
    if rest:
        kind = KIND_PREFIXES.get(prefix.lower().removesuffix(".kemr.io").removesuffix("s"))
        if kind is None:
            raise PluginError(
                f"'{prefix}/' is neither emrcluster/ nor emrstep/: use emrcluster/NAME or emrstep/NAME"
            )
        return kind, kube.get(kind, namespace, rest)
    found = []
    for kind in (CLUSTER_KIND, STEP_KIND):
        try:
            found.append((kind, kube.get(kind, namespace, target)))
        except PluginError as err:
            if "not found" not in str(err):
                raise
    if not found:
        raise PluginError(f'no EMRCluster or EMRStep "{target}" in namespace "{namespace}"')
    if len(found) > 1:
        raise PluginError(
            f"both an EMRCluster and an EMRStep are named {target}:"
            f" say emrcluster/{target} or emrstep/{target}"
        )
    return found[0]


def cluster_target(cluster: Mapping[str, Any]) -> UiTarget:
    """The live Spark master UI of a running cluster; PluginError once it terminated (its steps' UIs are in
    the history server: `kubectl emr ui STEP`)."""
    name = cluster["metadata"]["name"]
    state = (cluster.get("status") or {}).get("state") or "STARTING"
    if state not in LIVE_CLUSTER_STATES:
        raise PluginError(
            f"EMRCluster {name} is {state}: its Spark master is gone; a step's application stays viewable in"
            f" the history server: kubectl emr ui STEP (kubectl emr steps {name})"
        )
    return UiTarget(
        f"{name}-master-0", SPARK_MASTER_UI_PORT, "/", f"the Spark master UI of EMRCluster {name}"
    )


def pick_attempt(step: Mapping[str, Any], number: int | None) -> dict[str, Any]:
    """The step's attempt `number` (default: the last); PluginError when there is none."""
    name = step["metadata"]["name"]
    attempts: list[dict[str, Any]] = (step.get("status") or {}).get("attempts") or []
    if not attempts:
        state = (step.get("status") or {}).get("state") or "PENDING"
        raise PluginError(f"EMRStep {name} has no attempt yet ({state}): no Spark application has run")
    chosen = (
        attempts[-1] if number is None else next((a for a in attempts if a.get("number") == number), None)
    )
    if chosen is None:
        raise PluginError(f"EMRStep {name} has attempts 1..{len(attempts)}, not {number}")
    return chosen


def history_path(application_id: str | None) -> str:
    """The history server's page of one application (its jobs), else its list of applications."""
    return f"/history/{application_id}/jobs/" if application_id else "/"


def request_history(kube: Kube, cluster: Mapping[str, Any], now: datetime) -> datetime:
    """Asks the operator for the cluster's history server (or for HISTORY_TTL_SECONDS more of it); returns
    the request's time as the apiserver stamped it (a client clock off by more than a minute is corrected
    with a second patch: the operator measures the TTL with its own clock). PluginError when the cluster has
    no spec.logUri: Spark then wrote no event logs."""
    meta = cluster["metadata"]
    if not (cluster.get("spec") or {}).get("logUri"):
        raise PluginError(
            f"EMRCluster {meta['name']} has no spec.logUri, so Spark wrote no event logs and there is no"
            " history to show; set spec.logUri on the clusters whose applications you want to see afterwards"
        )
    answer = kube.merge_patch(CLUSTER_KIND, meta["namespace"], meta["name"], _request_patch(now))
    server = _patched_at(answer)
    if server is None or abs((server - now).total_seconds()) <= 60:
        return now
    kube.merge_patch(CLUSTER_KIND, meta["namespace"], meta["name"], _request_patch(server))
    return server


def _request_patch(when: datetime) -> dict[str, Any]:
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"annotations": {HISTORY_REQUESTED_ANNOTATION: stamp}}}


def _patched_at(obj: Mapping[str, Any]) -> datetime | None:
    """When the apiserver applied kubectl-emr's latest update of `obj` (its managedFields entry), if said."""
    for entry in obj.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER and entry.get("time"):
            return datetime.fromisoformat(str(entry["time"]).replace("Z", "+00:00"))
    return None


def pod_ready(pod: Mapping[str, Any] | None) -> bool:
    """Ready and not being deleted."""
    if pod is None or pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def wait_for_history(
    kube: Kube,
    namespace: str,
    pod_name: str,
    timeout: float,
    say: Callable[[str], None],
    requested: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Waits until the history server's pod is Ready (it is serving). PluginError when a pod made for this
    request (`requested`: the apiserver's time of the request) ended, with its last words, or when none got
    Ready within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    said = False
    while True:
        pod = kube.pod(namespace, pod_name)
        if pod_ready(pod):
            return
        status = (pod or {}).get("status") or {}
        phase = status.get("phase")
        created = (pod or {}).get("metadata", {}).get("creationTimestamp")
        fresh = requested is None or (
            created is not None and datetime.fromisoformat(str(created).replace("Z", "+00:00")) >= requested
        )
        if pod is not None and phase in ("Succeeded", "Failed") and fresh:
            raise PluginError(
                f"the Spark History Server (pod {namespace}/{pod_name}) ended: {pod_ended_message(pod)}"
            )
        if not said:
            say(f"waiting for the Spark History Server (pod {namespace}/{pod_name}) to start")
            said = True
        if time.monotonic() > deadline:
            raise PluginError(
                f"the Spark History Server (pod {namespace}/{pod_name}) is not ready after {timeout:.0f}s"
                f" (phase {phase or 'not created'}): kubectl describe pod {pod_name} -n {namespace}; the"
                " operator's Events: kubectl get events -n " + namespace
            )
        sleep(1.0)


def step_target(
    kube: Kube,
    step: Mapping[str, Any],
    attempt_number: int | None,
    timeout: float,
    say: Callable[[str], None],
    now: datetime,
) -> UiTarget:
    """A running driver's own UI, else the attempt's application in the cluster's history server (requested
    and waited for)."""
    meta = step["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    attempt = pick_attempt(step, attempt_number)
    number = attempt.get("number")
    if not attempt.get("outcome"):  # still running: the driver serves its own UI
        pod = kube.pod(namespace, attempt["driverPod"])
        if pod_ready(pod) or ((pod or {}).get("status") or {}).get("phase") == "Running":
            return UiTarget(attempt["driverPod"], DRIVER_UI_PORT, "/", f"the live Spark UI of step {name}")
        raise PluginError(
            f"the driver of step {name} (attempt {number}) is not running yet: try again shortly"
        )
    cluster_name = (step.get("spec") or {}).get("clusterRef", {}).get("name")
    cluster = kube.get(CLUSTER_KIND, namespace, cluster_name)
    requested = request_history(kube, cluster, now)
    pod_name = f"{cluster_name}-history"
    wait_for_history(kube, namespace, pod_name, timeout, say, requested.replace(microsecond=0))
    application = attempt.get("applicationId")
    if not application:
        say(f"attempt {number} of step {name} names no Spark application: listing those of {cluster_name}")
    what = f"Spark application {application} of step {name}" if application else "the applications"
    return UiTarget(
        pod_name,
        HISTORY_UI_PORT,
        history_path(application),
        f"{what} in the history server of {cluster_name}",
    )


def notebook_target(kube: Kube, notebook: Mapping[str, Any]) -> UiTarget:
    """The JupyterLab of a READY EMRNotebook: its ready pod's port 8888, page /lab (the login page asks for
    the token or password from the notebook's Secret). PluginError, with the notebook's reason, otherwise."""
    meta = notebook["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    status = notebook.get("status") or {}
    state = status.get("state") or "PENDING"
    if state != "READY":
        why = (status.get("stateChangeReason") or {}).get("message")
        raise PluginError(
            f"EMRNotebook {name} is {state}{f': {why}' if why else ''}; it can be opened once READY"
            f" (kubectl get emrnb {name} -n {namespace} -w)"
        )
    pods = kube.pods_labelled(namespace, f"{LABEL_ROLE}={ROLE_NOTEBOOK},{LABEL_NOTEBOOK}={name}")
    ready = [p for p in pods if pod_ready(p) and not p["metadata"].get("deletionTimestamp")]
    if not ready:
        raise PluginError(f"EMRNotebook {name} has no ready pod right now: try again shortly")
    return UiTarget(
        ready[0]["metadata"]["name"],
        JUPYTER_PORT,
        status.get("url") or NOTEBOOK_URL_PATH,
        f"the JupyterLab of EMRNotebook {name} (attached to {status.get('cluster') or '?'})",
    )


def kubectl_base(kubeconfig: str | None, context: str | None) -> list[str]:
    command = ["kubectl"]
    if kubeconfig:
        command += ["--kubeconfig", kubeconfig]
    if context:
        command += ["--context", context]
    return command


def port_forward_command(
    base: list[str], namespace: str, target: UiTarget, address: str, port: int
) -> list[str]:
    """`kubectl port-forward` of the target's pod port to `address:port` (port 0: any free one)."""
    local = "" if port == 0 else str(port)
    return [
        *base,
        "port-forward",
        "-n",
        namespace,
        f"pod/{target.pod}",
        f"{local}:{target.port}",
        "--address",
        address,
    ]


def forwarded_address(line: str) -> tuple[str, int] | None:
    """(host, local port) of kubectl's `Forwarding from 127.0.0.1:41235 -> 18080` line, or None for another
    line; an IPv6 host comes bracketed (`[::1]`)."""
    match = FORWARDING.search(line)
    if not match:
        return None
    host = match.group(1)
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return host, int(match.group(2))


def forwarded_url(line: str, path: str) -> str | None:
    """The URL of kubectl's `Forwarding from 127.0.0.1:41235 -> 18080` line, or None for another line."""
    address = forwarded_address(line)
    return None if address is None else f"http://{address[0]}:{address[1]}{path}"


def forward(
    command: Callable[[int], list[str]],
    port: int,
    path: str,
    announce: Callable[[str], None],
    say: Callable[[str], None],
    pause: Callable[[float], None] = time.sleep,
) -> int:
    """Runs `kubectl port-forward` (`command(local port)`; port 0: any free one) until Ctrl-C, announcing the
    URL once it first listens.

    kubectl ends its whole forward on the first error on any one connection ("lost connection to pod",
    kubernetes/kubectl#1169), which a browser's cancelled request or a closed websocket can cause; so once it
    has listened, a forward that ends is started again on the same local port (after `RESTART_PAUSE_S`), the
    announced URL staying valid, with one line through `say`. A kubectl that ends before it listens (the pod
    gone or not running, the port taken) is not started again. Returns that kubectl's exit code, 0 after
    Ctrl-C."""
    announced = False
    while True:
        process = subprocess.Popen(command(port), stdout=subprocess.PIPE, text=True, bufsize=1)
        assert process.stdout is not None
        try:
            address = next(filter(None, map(forwarded_address, process.stdout)), None)
            if address is None:
                return process.wait()
            if not announced:
                port = address[1]
                announce(f"http://{address[0]}:{port}{path}")
                announced = True
            for _ in process.stdout:  # kubectl prints "Handling connection for ..." per connection
                pass
            code = process.wait()
            say(f"kubectl port-forward ended (exit code {code}); forwarding port {port} again")
            pause(RESTART_PAUSE_S)
        except KeyboardInterrupt:
            process.terminate()
            process.wait(timeout=10)
            return 0


def stderr_say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
