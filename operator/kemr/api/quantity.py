"""Kubernetes quantities (`500m`, `4Gi`, `1e3`) to millicores and MiB, and back to canonical strings."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))((?:[KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?$")
MIB = 2**20


def parse_quantity(value: str) -> Decimal:
    """The quantity's value in base units. ValueError when it is not a Kubernetes quantity."""
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
        if suffix[:1] in ("e", "E"):
            return base * Decimal(10) ** int(suffix[1:])
        return base * _SUFFIXES[suffix]
    except (InvalidOperation, KeyError) as err:  # pragma: no cover - the regex admits only valid forms
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from err


def cpu_millis(value: str) -> int:
    """CPU in millicores, rounded up (as the apiserver rounds a request)."""
    return math.ceil(parse_quantity(value) * 1000)


def memory_mib(value: str) -> int:
    """Memory in MiB, rounded down."""
    return math.floor(parse_quantity(value) / MIB)


def format_cpu(millis: int) -> str:
    """`2` for whole cores, `500m` otherwise."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(mib: int) -> str:
    """`4Gi` for whole GiB, `1536Mi` otherwise."""
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


# Spark refuses to start a JVM whose heap is below 1.5 times its 300 MiB of reserved memory
# (UnifiedMemoryManager: "System memory … must be at least 471859200").
SPARK_MIN_HEAP_MIB = 450


def driver_heap_mib(container_memory_mib: int) -> int:
    """The driver JVM's heap (spark.driver.memory, MiB) in a container of `container_memory_mib`: what is left
    after Spark's own memoryOverhead rule, max(384 MiB, 20%), for metaspace, threads, buffers and the PySpark
    process. A 1Gi driver gets 640 MiB."""
    return container_memory_mib - max(384, container_memory_mib // 5)


def min_driver_memory_mib() -> int:
    """The smallest container memory (MiB) whose driver heap reaches SPARK_MIN_HEAP_MIB (834)."""
    return next(
        m
        for m in range(SPARK_MIN_HEAP_MIB, 4 * SPARK_MIN_HEAP_MIB)
        if driver_heap_mib(m) >= SPARK_MIN_HEAP_MIB
    )
