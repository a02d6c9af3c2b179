"""Issue 8 on the real node: lowering a core group's replicas decommissions the leaving DataNode first (the
NameNode moves its blocks), only then shrinks the StatefulSet and deletes the removed pod's volume, and HDFS
stays whole: `hdfs fsck /` HEALTHY, no missing or corrupt block, every file reads back.

One cluster: 3 core nodes, dfs.replication=2, a few files put into HDFS, then core 3 → 2. While it shrinks the
test samples, every ~2 s, the StatefulSet's spec.replicas, the group's status and the NameNode's view of the
leaving DataNode (its JMX through the apiserver's service proxy)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from support import emr
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

NAME = "scalein"
GROUP = "core"
STATEFULSET = f"{NAME}-core-{GROUP}"
MASTER_POD = f"{NAME}-master-0"
FILES = {f"/kemr-e2e/file-{i}.txt": f"kemr scale-in file {i}\n" * (200 * (i + 1)) for i in range(4)}
# Cold JVMs on 2 CPUs: ~2 min to start; the kubelet refreshes the exclude ConfigMap within ~1 min; the
# NameNode's decommission monitor ticks every 30 s.
START_TIMEOUT_S = 300
SHRINK_TIMEOUT_S = 300

pytestmark = pytest.mark.timeout(START_TIMEOUT_S + SHRINK_TIMEOUT_S + 180)


def manifest(core_replicas: int) -> dict[str, Any]:
    configurations = [{"classification": "hdfs-site", "properties": {"dfs.replication": "2"}}]
    return emr.small_real_cluster(NAME, GROUP, core_replicas, configurations=configurations)


def hdfs(kube: Kube, namespace: str, *args: str, check: bool = True) -> str:
    """`hdfs <args>` in the master's namenode container, as an administrator would run it."""
    script = '"${HADOOP_HOME}/bin/hdfs" "$@"'
    done = kube.run(
        "exec",
        "-n",
        namespace,
        MASTER_POD,
        "-c",
        "namenode",
        "--",
        "bash",
        "-c",
        script,
        "hdfs",
        *args,
        check=check,
    )
    return done.stdout


def admin_states(kube: Kube, namespace: str) -> dict[str, str]:
    """DataNode IP → admin state, from the NameNode's JMX (NameNodeInfo) via the apiserver's service proxy."""
    path = (
        f"/api/v1/namespaces/{namespace}/services/{NAME}-master:9870/proxy/jmx"
        "?qry=Hadoop:service=NameNode,name=NameNodeInfo"
    )
    done = kube.run("get", "--raw", path, check=False)
    if done.returncode != 0:
        return {}
    states: dict[str, str] = {}
    for bean in json.loads(done.stdout).get("beans", []):
        for node in json.loads(bean.get("LiveNodes") or "{}").values():
            states[str(node["xferaddr"]).rsplit(":", 1)[0]] = str(node["adminState"])
        for node in json.loads(bean.get("DeadNodes") or "{}").values():
            ip = str(node["xferaddr"]).rsplit(":", 1)[0]
            states[ip] = "Decommissioned" if node.get("decommissioned") else "Dead"
    return states


@dataclass(frozen=True)
class Sample:
    at: float
    statefulset_replicas: int
    datanode_state: str  # the leaving DataNode's admin state, as the NameNode reports it
    decommissioning: tuple[str, ...]  # status.groups[core].decommissioning
    reason: str | None


@dataclass(frozen=True)
class ScaleIn:
    namespace: str
    leaving_pod: str
    samples: list[Sample]
    cluster: dict[str, Any]


@pytest.fixture(scope="module")
def scale_in(kube: Kube, real_node_operator: OperatorProcess) -> Iterator[ScaleIn]:
    del real_node_operator
    namespace = f"e2e-scalein-{secrets.token_hex(3)}"
    kube.run("create", "namespace", namespace)
    try:
        yield _run(kube, namespace)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{emr.diagnose(kube, namespace)}") from None
    finally:
        kube.run("delete", "namespace", namespace, "--wait=false", check=False)


def _run(kube: Kube, namespace: str) -> ScaleIn:
    kube.apply(manifest(3), namespace=namespace)

    def waiting() -> bool:
        status = emr.cluster(kube, namespace, NAME).get("status") or {}
        stalled = emr.condition({"status": status}, "Stalled") or {}
        assert stalled.get("status") != "True", f"the cluster stalled: {stalled.get('message')}"
        return status.get("state") == "WAITING"

    wait_until(waiting, START_TIMEOUT_S, f"EMRCluster {namespace}/{NAME} WAITING", 3)

    def three_datanodes() -> bool:
        return sum(s == "In Service" for s in admin_states(kube, namespace).values()) == 3

    wait_until(three_datanodes, 120, "3 DataNodes In Service", 3)
    hdfs(kube, namespace, "dfs", "-mkdir", "-p", "/kemr-e2e")
    for path, content in FILES.items():
        script = f'printf %s "$1" | "${{HADOOP_HOME}}/bin/hdfs" dfs -put -f - {path}'
        kube.run(
            "exec", "-n", namespace, MASTER_POD, "-c", "namenode", "--", "bash", "-c", script, "put", content
        )
    leaving = f"{STATEFULSET}-2"
    leaving_ip = kube.get("pod", "-n", namespace, leaving)["status"]["podIP"]

    kube.apply(manifest(2), namespace=namespace)
    samples: list[Sample] = []
    start = time.monotonic()

    def sample() -> bool:
        sts = kube.get("statefulset", "-n", namespace, STATEFULSET)
        group: dict[str, Any] = next(
            (
                g
                for g in (emr.cluster(kube, namespace, NAME).get("status") or {}).get("groups", [])
                if g["name"] == GROUP
            ),
            {},
        )
        samples.append(
            Sample(
                time.monotonic() - start,
                int(sts["spec"]["replicas"]),
                admin_states(kube, namespace).get(leaving_ip, "not reported"),
                tuple(group.get("decommissioning") or ()),
                group.get("reason"),
            )
        )
        pods = kube.items("pods", "-n", namespace, "-l", f"kemr.io/role=core,kemr.io/group={GROUP}")
        claims = {c["metadata"]["name"] for c in kube.items("pvc", "-n", namespace)}
        return samples[-1].statefulset_replicas == 2 and len(pods) == 2 and f"data-{leaving}" not in claims

    try:
        wait_until(sample, SHRINK_TIMEOUT_S, "core group shrunk to 2 pods with the leaving volume deleted", 2)
    except AssertionError as err:
        raise AssertionError(f"{err}\nsamples: {samples}") from None
    for s in samples:
        print(s)
    return ScaleIn(namespace, leaving, samples, emr.cluster(kube, namespace, NAME))


def test_the_leaving_datanode_is_decommissioned_before_the_statefulset_shrinks(scale_in: ScaleIn) -> None:
    before = [s for s in scale_in.samples if s.statefulset_replicas == 3]
    assert before, f"the StatefulSet shrank before the first sample: {scale_in.samples}"
    draining = [
        s
        for s in before
        if s.datanode_state in ("Decommission In Progress", "Decommissioned")
        and scale_in.leaving_pod in s.decommissioning
    ]
    assert draining, (
        f"never saw the DataNode decommissioning while the StatefulSet held 3: {scale_in.samples}"
    )
    first_shrunk = next(i for i, s in enumerate(scale_in.samples) if s.statefulset_replicas == 2)
    assert all(s.statefulset_replicas == 2 for s in scale_in.samples[first_shrunk:]), scale_in.samples
    # The DataNode never served again once it started to leave.
    first_draining = scale_in.samples.index(draining[0])
    later = [s.datanode_state for s in scale_in.samples[first_draining:first_shrunk]]
    assert "In Service" not in later, scale_in.samples


def test_afterwards_two_core_pods_remain_and_the_removed_pods_volume_is_gone(
    scale_in: ScaleIn, kube: Kube
) -> None:
    pods = kube.items("pods", "-n", scale_in.namespace, "-l", f"kemr.io/role=core,kemr.io/group={GROUP}")
    assert sorted(p["metadata"]["name"] for p in pods) == [f"{STATEFULSET}-0", f"{STATEFULSET}-1"]
    claims = sorted(c["metadata"]["name"] for c in kube.items("pvc", "-n", scale_in.namespace))
    assert f"data-{STATEFULSET}-0" in claims, claims
    assert f"data-{STATEFULSET}-1" in claims, claims
    assert f"data-{scale_in.leaving_pod}" not in claims, claims


def test_hdfs_fsck_is_healthy_and_every_file_reads_back(scale_in: ScaleIn, kube: Kube) -> None:
    report = hdfs(kube, scale_in.namespace, "fsck", "/")
    assert "The filesystem under path '/' is HEALTHY" in report, report
    for line in ("Missing blocks:", "Corrupt blocks:"):
        value = next(row for row in report.splitlines() if row.strip().startswith(line))
        assert value.split(":", 1)[1].split()[0] == "0", value
    for path, content in FILES.items():
        assert hdfs(kube, scale_in.namespace, "dfs", "-cat", path) == content, path
