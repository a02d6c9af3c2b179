"""How a pod's resources are split between its daemons, and what a Spark worker offers executors."""

from __future__ import annotations

from dataclasses import dataclass

from kemr.api import Resources
from kemr.api.quantity import cpu_millis, format_memory, memory_mib
from kemr.config import Sizing
from kemr.resolve.errors import ResolveError
from kemr.resolve.model import ContainerSize

MIN_DAEMON_MEMORY_MIB = 256  # below this a JVM daemon doesn't start


@dataclass(frozen=True)
class PodSizing:
    pod: ContainerSize
    spark: ContainerSize
    hdfs: ContainerSize | None
    spark_daemon_heap_mib: int
    hdfs_heap_mib: int | None
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


def _split(pod: ContainerSize, hdfs_cpu: int, hdfs_memory: int) -> tuple[ContainerSize, ContainerSize]:
    return (
        ContainerSize(cpu_millis=pod.cpu_millis - hdfs_cpu, memory_mib=pod.memory_mib - hdfs_memory),
        ContainerSize(cpu_millis=hdfs_cpu, memory_mib=hdfs_memory),
    )


def _require_memory(size: ContainerSize, minimum: int, field: str, what: str, pod: ContainerSize) -> None:
    if size.memory_mib < minimum:
        raise ResolveError(
            f"{field}.resources.memory",
            f"{format_memory(pod.memory_mib)} is too small: it leaves {format_memory(size.memory_mib)}"
            f" for {what}, which needs at least {format_memory(minimum)}",
        )


def _heap(memory_mib: int, sizing: Sizing) -> int:
    return int(memory_mib * sizing.jvm_heap_fraction)


def size_master(resources: Resources, hdfs: bool, sizing: Sizing, field: str) -> PodSizing:
    """Spark master and (with HDFS) NameNode share the master pod."""
    pod = pod_size(resources, field)
    if not hdfs:
        _require_memory(pod, MIN_DAEMON_MEMORY_MIB, field, "the Spark master", pod)
        return PodSizing(pod, pod, None, _heap(pod.memory_mib, sizing), None, None, None)
    if pod.cpu_millis < 2:
        raise ResolveError(f"{field}.resources.cpu", "the master needs at least 2m (Spark master + NameNode)")
    spark_memory = int(pod.memory_mib * sizing.master_spark_memory_fraction)
    spark, namenode = _split(pod, pod.cpu_millis // 2, pod.memory_mib - spark_memory)
    _require_memory(spark, MIN_DAEMON_MEMORY_MIB, field, "the Spark master", pod)
    _require_memory(namenode, MIN_DAEMON_MEMORY_MIB, field, "the HDFS NameNode", pod)
    return PodSizing(
        pod, spark, namenode, _heap(spark.memory_mib, sizing), _heap(namenode.memory_mib, sizing), None, None
    )


def _worker(pod: ContainerSize, worker: ContainerSize, sizing: Sizing, field: str) -> tuple[int, int, int]:
    """(daemon heap, cores offered, memory offered) of a Spark worker container."""
    offered = int((worker.memory_mib - sizing.worker_daemon_memory_mib) * sizing.executor_memory_fraction)
    if offered < sizing.min_executor_memory_mib:
        raise ResolveError(
            f"{field}.resources.memory",
            f"{format_memory(pod.memory_mib)} is too small: the Spark worker would offer executors "
            f"{max(offered, 0)}Mi, less than {sizing.min_executor_memory_mib}Mi",
        )
    # CPU is a request, not a limit: the worker offers every whole core of the pod.
    cores = max(1, pod.cpu_millis // 1000)
    return sizing.worker_daemon_memory_mib // 2, cores, offered


def size_worker(resources: Resources, datanode: bool, sizing: Sizing, field: str) -> PodSizing:
    """A core pod (Spark worker + DataNode) or a task pod (Spark worker only)."""
    pod = pod_size(resources, field)
    if datanode:
        hdfs_memory = min(
            max(int(pod.memory_mib * sizing.datanode_memory_fraction), sizing.datanode_min_memory_mib),
            sizing.datanode_max_memory_mib,
            pod.memory_mib // 2,
        )
        if pod.cpu_millis < 2:
            raise ResolveError(
                f"{field}.resources.cpu", "a core pod needs at least 2m (Spark worker + DataNode)"
            )
        hdfs_cpu = min(max(int(pod.cpu_millis * sizing.datanode_cpu_fraction), 100), pod.cpu_millis // 2)
        spark, hdfs = _split(pod, hdfs_cpu, hdfs_memory)
        _require_memory(hdfs, MIN_DAEMON_MEMORY_MIB, field, "the HDFS DataNode", pod)
        heap, cores, offered = _worker(pod, spark, sizing, field)
        return PodSizing(pod, spark, hdfs, heap, _heap(hdfs.memory_mib, sizing), cores, offered)
    heap, cores, offered = _worker(pod, pod, sizing, field)
    return PodSizing(pod, pod, None, heap, None, cores, offered)
