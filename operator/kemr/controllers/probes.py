"""The observe stage's reads beyond the watch cache: the Spark master's report (managed scaling), the
NameNode's DataNode states (core scale-in) and a notebook's kernels (Jupyter's REST API). Each is one short
try; after a failure the next try waits, so a
cluster whose daemons can't be reached from the operator (kwok pods, an operator outside the cluster without
the service proxy) neither slows reconciles nor fills the log."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from kemr.runtime.client import ApiError, Client
from kemr.status import decommission as d
from kemr.status.notebook import KernelsReport, summarize_kernels

log = logging.getLogger(__name__)

MASTER_TIMEOUT_SECONDS = 0.5  # the master answers in milliseconds when it is there at all
# After a failure, don't ask again for this long: no log spam, no slow reconciles.
MASTER_RETRY_SECONDS = 60.0


@dataclass
class _Probe:
    """One daemon's reachability: when to try again, and whether the last try answered (logged on change)."""

    next_try: float = 0.0
    reachable: bool | None = None

    def due(self) -> bool:
        return time.monotonic() >= self.next_try

    def failed(self, retry_seconds: float, message: str) -> None:
        self.next_try = time.monotonic() + retry_seconds
        if self.reachable is not False:  # log the change, not every failure
            log.info("%s", message)
        self.reachable = False

    def answered(self, message: str) -> None:
        if self.reachable is not True:
            log.info("%s", message)
        self.reachable = True


_probes: dict[tuple[str, str], _Probe] = {}


async def master_report(namespace: str, cluster: str, web_ui: str) -> dict[str, Any] | None:
    """The Spark master's /json/, or None when it can't be had (not up yet, or not reachable from where the
    operator runs: e.g. the operator outside the cluster, or kwok pods). One short try, then a pause."""
    probe = _probes.setdefault((namespace, cluster), _Probe())
    if not probe.due():
        return None
    try:
        timeout = aiohttp.ClientTimeout(total=MASTER_TIMEOUT_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{web_ui.rstrip('/')}/json/") as response,
        ):
            response.raise_for_status()
            body: dict[str, Any] = json.loads(await response.text())
    except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as err:
        probe.failed(
            MASTER_RETRY_SECONDS,
            f"{namespace}/{cluster}: Spark master unreachable ({err}); scaling from the steps",
        )
        return None
    probe.answered(f"{namespace}/{cluster}: Spark master reachable; scaling also from its report")
    return body


def forget(namespace: str, cluster: str) -> None:
    """Drops a deleted cluster's probe state."""
    _probes.pop((namespace, cluster), None)
    _probes.pop((namespace, f"{cluster}/namenode"), None)


NAMENODE_RETRY_SECONDS = 10.0  # a decommission waits on the NameNode: ask again soon, quietly
DECOMMISSION_RECHECK_SECONDS = 10.0


async def namenode_states(
    namespace: str, cluster: str, namenode_ui: str, kube: Client | None = None
) -> dict[str, str] | None:
    """DataNode IP → admin state from the NameNode's JMX, or None when it can't be asked. Directly first (an
    operator in the cluster); then, when `kube` is given, through the apiserver's service proxy: an operator
    outside the cluster (a host process) can't resolve `<svc>.<ns>.svc`, and without this a core scale-in
    would wait forever."""
    probe = _probes.setdefault((namespace, f"{cluster}/namenode"), _Probe())
    if not probe.due():
        return None
    url = f"{namenode_ui.rstrip('/')}/jmx?qry={d.NAMENODE_INFO_QUERY}"
    errors: list[str] = []
    states = None
    try:
        timeout = aiohttp.ClientTimeout(total=MASTER_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            response.raise_for_status()
            states = d.namenode_admin_states(json.loads(await response.text()))
    except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as err:
        errors.append(f"{url}: {err}")
    proxy = d.service_proxy_path(namenode_ui, "/jmx") if states is None and kube is not None else None
    if proxy is not None and kube is not None:
        try:
            states = d.namenode_admin_states(
                await kube.request("GET", proxy, query={"qry": d.NAMENODE_INFO_QUERY})
            )
        except (ApiError, TimeoutError, aiohttp.ClientError, ValueError, OSError) as err:
            errors.append(f"apiserver proxy {proxy}: {err}")
    if states is None:
        probe.failed(
            NAMENODE_RETRY_SECONDS,
            f"{namespace}/{cluster}: NameNode unreachable ({'; '.join(errors)}): decommissions wait",
        )
        return None
    probe.answered(f"{namespace}/{cluster}: NameNode reachable; decommissions follow its report")
    return states


JUPYTER_TIMEOUT_SECONDS = 5.0  # a Jupyter server lists its kernels from memory: 5 s means it is stuck


async def jupyter_kernels(url: str, token: str) -> KernelsReport:
    """A notebook's kernels from Jupyter Server's `GET <url>` (http://<pod IP>:8888/api/kernels), with the
    server's token (`Authorization: token <token>`). One try of JUPYTER_TIMEOUT_SECONDS; a failure is in the
    report (`error`), never raised: the notebook keeps its last counts."""
    try:
        timeout = aiohttp.ClientTimeout(total=JUPYTER_TIMEOUT_SECONDS)
        headers = {"Authorization": f"token {token}"}
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            response.raise_for_status()
            return summarize_kernels(json.loads(await response.text()))
    except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as err:
        return KernelsReport(error=f"GET {url}: {str(err) or type(err).__name__}")
