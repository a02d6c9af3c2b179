"""The kwok node pools in tests: cordon, delete and recreate nodes as a cloud would lose and return them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.kube import Kube, wait_until

UP_SCRIPT = Path(__file__).resolve().parents[2] / "cluster" / "up.sh"
ZONES = ("local-a", "local-b")  # as cluster/up.sh assigns them: by index, alternating


def pool_nodes(kube: Kube, pool: str) -> list[str]:
    nodes = kube.items("nodes", "-l", f"type=kwok,karpenter.sh/capacity-type={pool}")
    return sorted(n["metadata"]["name"] for n in nodes)


def node_manifest(name: str) -> str:
    """The manifest cluster/up.sh applies for the kwok node `name` (kwok-<pool>-<index>): its own
    node_manifest function, so a recreated node is exactly the one the cluster started with."""
    pool, index = name.removeprefix("kwok-").rsplit("-", 1)
    script = (
        f'eval "$(sed -n "/^node_manifest()/,/^}}/p" {UP_SCRIPT})"\n'
        f"node_manifest {pool} {index} {ZONES[int(index) % len(ZONES)]}\n"
    )
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout


def recreate_nodes(kube: Kube, names: list[str]) -> None:
    """Brings deleted kwok nodes back (kwok makes them Ready within seconds)."""
    missing = [n for n in names if kube.run("get", "node", n, check=False).returncode != 0]
    if missing:
        kube.run("apply", "-f", "-", stdin="".join(node_manifest(n) for n in missing))
    wait_until(lambda: all(_ready(kube, n) for n in names), 60, f"nodes {names} to be Ready again")


def _ready(kube: Kube, name: str) -> bool:
    proc = kube.run("get", "node", name, "-o", "json", check=False)
    if proc.returncode != 0:
        return False
    node: dict[str, Any] = json.loads(proc.stdout)
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@contextmanager
def cordoned(kube: Kube, names: list[str]) -> Iterator[None]:
    """The nodes unschedulable for the block; uncordoned afterwards whatever happens."""
    try:
        kube.run("cordon", *names)
        yield
    finally:
        kube.run("uncordon", *names, check=False)


def uncordon(kube: Kube, names: list[str]) -> None:
    kube.run("uncordon", *names)
