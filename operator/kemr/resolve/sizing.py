"""How a pod's resources are split between its daemons, and what a Spark worker offers executors.

The daemons are the enabled applications' (kemr.applications): each but the pod's main one (Spark's) takes
its declared share, of the pod or (`share_of_rest`, Trino's) of what the daemons before it left; the main
one gets the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kemr.api import Resources
from kemr.api.quantity import cpu_millis, format_memory, memory_mib
from kemr.applications.base import MIN_DAEMON_MEMORY_MIB, ContainerSize, Daemon
from kemr.config import Sizing
from kemr.resolve.errors import ResolveError

__all__ = ["MIN_DAEMON_MEMORY_MIB", "PodSizing", "pod_size", "size_pod"]


@dataclass(frozen=True)
class PodSizing:
    pod: ContainerSize
    daemons: tuple[tuple[Daemon, ContainerSize, int], ...]  # each daemon, its container's size, its heap
    worker_cores: int | None
    worker_memory_mib: int | None


def pod_size(resources: Resources, field: str) -> ContainerSize:
    """The spec's resources as numbers; a quantity the schema let through but that rounds to 0 is an error."""
    cpu = cpu_millis(resources.cpu)
    memory = memory_mib(resources.memory)
    if cpu < 1:
        raise ResolveError(f"{field}.resources.cpu", f"{resources.cpu!r} is less than 1m")
    if memory < 1:
        raise ResolveError(f"{field}.resources.memory", f"{resources.memory!r} is less than 1Mi")
    return ContainerSize(cpu_millis=cpu, memory_mib=memory)


def _require_memory(size: ContainerSize, minimum: int, field: str, what: str, pod: ContainerSize) -> None:
    if size.memory_mib < minimum:
        raise ResolveError(
            f"{field}.resources.memory",
            f"{format_memory(pod.memory_mib)} is too small: it leaves {format_memory(size.memory_mib)}"
            f" for {what}, which needs at least {format_memory(minimum)}",
        )


def _worker(pod: ContainerSize, worker: ContainerSize, sizing: Sizing, field: str) -> tuple[int, int]:
    """(cores offered, memory offered) of a Spark worker container."""
    offered = int((worker.memory_mib - sizing.worker_daemon_memory_mib) * sizing.executor_memory_fraction)
    if offered < sizing.min_executor_memory_mib:
        raise ResolveError(
            f"{field}.resources.memory",
            f"{format_memory(pod.memory_mib)} is too small: the Spark worker would offer executors "
            f"{max(offered, 0)}Mi, less than {sizing.min_executor_memory_mib}Mi",
        )
    # CPU is a request, not a limit: the worker offers every whole core of the pod.
    return max(1, pod.cpu_millis // 1000), offered


def size_pod(
    resources: Resources, daemons: Sequence[Daemon], sizing: Sizing, field: str, subject: str, worker: bool
) -> PodSizing:
    """A pod's daemons sized: the master's (`worker` False) or a core or task pod's, whose main daemon is a
    Spark worker offering executors what it is left. `subject` names the pod in errors (`the master`)."""
    pod = pod_size(resources, field)
    if len(daemons) > 1 and pod.cpu_millis < len(daemons):
        labels = " + ".join(d.label for d in daemons)
        raise ResolveError(f"{field}.resources.cpu", f"{subject} needs at least {len(daemons)}m ({labels})")
    shares: list[ContainerSize | None] = []
    rest = pod  # what the daemons sized so far leave
    for daemon in daemons:
        share = daemon.share(rest if daemon.share_of_rest else pod, sizing) if daemon.share else None
        if share is not None:
            rest = ContainerSize(rest.cpu_millis - share.cpu_millis, rest.memory_mib - share.memory_mib)
        shares.append(share)
    sizes = [share or rest for share in shares]
    for daemon, size in zip(daemons, sizes, strict=True):
        if daemon.min_memory_mib is not None:
            _require_memory(size, daemon.min_memory_mib, field, daemon.what, pod)
    cores = offered = None
    if worker:
        cores, offered = _worker(pod, rest, sizing, field)
    sized = tuple((d, size, d.heap(size, sizing)) for d, size in zip(daemons, sizes, strict=True))
    return PodSizing(pod, sized, cores, offered)
