"""The pods: restricted Pod Security, sizing from the spec's resources, probes, scripts, bootstrap actions."""

from __future__ import annotations

import py_compile
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from golden_support import (
    EXAMPLES,
    children_by_key,
    container,
    pod_spec,
    resolve_example,
    resolve_spec,
    small_spec,
)

from kemr.builders import build_children
from kemr.builders.render import render_scripts
from kemr.resolve import ResolveError


def _pod_templates(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["spec"]["template"] for c in children if c["kind"] in ("StatefulSet", "Deployment")]


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_pods_pass_the_restricted_pod_security_standard(example: str) -> None:
    for template in _pod_templates(build_children(resolve_example(EXAMPLES[example]))):
        spec = template["spec"]
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True
        assert pod_sc["runAsUser"] != 0
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
        for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host_namespace)
        for volume in spec["volumes"]:
            assert set(volume) - {"name"} <= {"configMap", "emptyDir", "secret", "persistentVolumeClaim"}
        for ctr in [*spec.get("initContainers", []), *spec["containers"]]:
            sc = ctr["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert not sc.get("privileged")
            assert not any(p.get("hostPort") for p in ctr.get("ports", []))


def test_containers_of_each_role() -> None:
    children = children_by_key(resolve_spec(small_spec()))
    names = {
        key: [c["name"] for c in pod_spec(children[key])["containers"]]
        for key in (
            ("StatefulSet", "sales-master"),
            ("StatefulSet", "sales-core-core"),
            ("Deployment", "sales-task-spot"),
        )
    }
    assert names == {
        ("StatefulSet", "sales-master"): ["spark-master", "namenode"],
        ("StatefulSet", "sales-core-core"): ["spark-worker", "datanode"],
        ("Deployment", "sales-task-spot"): ["spark-worker"],
    }
    no_hdfs = children_by_key(resolve_spec(small_spec(applications=["Spark"])))
    assert [c["name"] for c in pod_spec(no_hdfs[("StatefulSet", "sales-master")])["containers"]] == [
        "spark-master"
    ]
    assert [c["name"] for c in pod_spec(no_hdfs[("StatefulSet", "sales-core-core")])["containers"]] == [
        "spark-worker"
    ]


def _env(ctr: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in ctr["env"]}


def test_core_pod_resources_split_between_worker_and_datanode() -> None:
    spec = small_spec(
        coreGroups=[{"name": "core", "replicas": 1, "resources": {"cpu": "4", "memory": "16Gi"}}]
    )
    sts = children_by_key(resolve_spec(spec))[("StatefulSet", "sales-core-core")]
    worker, datanode = container(sts, "spark-worker"), container(sts, "datanode")
    assert datanode["resources"] == {
        "requests": {"cpu": "500m", "memory": "2Gi"},
        "limits": {"memory": "2Gi"},
    }
    assert worker["resources"] == {
        "requests": {"cpu": "3500m", "memory": "14Gi"},
        "limits": {"memory": "14Gi"},
    }
    env = _env(worker)
    assert env["SPARK_WORKER_CORES"] == "4"
    # (14336 MiB - 512 MiB for the worker daemon) * 0.8 for executors, the rest headroom
    assert env["SPARK_WORKER_MEMORY"] == "11059m"
    assert _env(datanode)["HADOOP_HEAPSIZE_MAX"] == "1536m"


def test_task_pod_gets_all_of_its_resources() -> None:
    dep = children_by_key(resolve_spec(small_spec()))[("Deployment", "sales-task-spot")]
    worker = container(dep, "spark-worker")
    assert worker["resources"] == {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "4Gi"}}
    assert _env(worker)["SPARK_WORKER_MEMORY"] == "2867m"


def test_master_pod_split() -> None:
    spec = small_spec(master={"resources": {"cpu": "2", "memory": "8Gi"}})
    sts = children_by_key(resolve_spec(spec))[("StatefulSet", "sales-master")]
    master, namenode = container(sts, "spark-master"), container(sts, "namenode")
    assert master["resources"]["limits"] == {"memory": "4Gi"}
    assert namenode["resources"]["limits"] == {"memory": "4Gi"}
    assert _env(master)["SPARK_DAEMON_MEMORY"] == "3072m"


def test_too_little_memory_is_a_resolve_error_naming_the_field() -> None:
    spec = small_spec(coreGroups=[{"name": "core", "resources": {"cpu": "1", "memory": "1Gi"}}])
    with pytest.raises(ResolveError) as err:
        resolve_spec(spec)
    assert err.value.field == "spec.coreGroups[core].resources.memory"


def test_readiness_probes_ask_the_daemons() -> None:
    children = children_by_key(resolve_spec(small_spec()))
    for key, name in [
        (("StatefulSet", "sales-master"), "spark-master"),
        (("StatefulSet", "sales-master"), "namenode"),
        (("StatefulSet", "sales-core-core"), "spark-worker"),
        (("StatefulSet", "sales-core-core"), "datanode"),
    ]:
        probe = container(children[key], name)["readinessProbe"]
        assert probe["exec"]["command"] == ["python3", "/opt/kemr/scripts/probe.py", name]


def test_bootstrap_actions_are_init_containers_in_order() -> None:
    spec = small_spec(
        bootstrapActions=[
            {"name": "first", "script": "s3://b/one.sh", "args": ["x"]},
            {"name": "second", "script": "/opt/two.sh"},
        ]
    )
    for child in children_by_key(resolve_spec(spec)).values():
        if child["kind"] not in ("StatefulSet", "Deployment"):
            continue
        init = pod_spec(child)["initContainers"]
        assert [c["name"] for c in init] == ["bootstrap-first", "bootstrap-second"]
        assert init[0]["args"] == ["first", "s3://b/one.sh", "x"]
        assert init[0]["command"] == ["bash", "/opt/kemr/scripts/bootstrap.sh"]
        mounts = {m["mountPath"] for m in init[0]["volumeMounts"]}
        assert "/opt/kemr/local" in mounts  # what they install reaches the daemons


def test_pvcs_per_pod_for_master_and_core_scratch_for_tasks() -> None:
    children = children_by_key(
        resolve_spec(small_spec(master={"storage": {"size": "5Gi", "storageClassName": "x"}}))
    )
    master = children[("StatefulSet", "sales-master")]["spec"]
    assert master["volumeClaimTemplates"][0]["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "x",
    }
    assert master["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    task_volumes = {v["name"]: v for v in pod_spec(children[("Deployment", "sales-task-spot")])["volumes"]}
    assert task_volumes["data"] == {"name": "data", "emptyDir": {}}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_scripts_are_valid_bash_and_python(tmp_path: Path) -> None:
    for name, text in render_scripts().items():
        path = tmp_path / name
        path.write_text(text)
        if name.endswith(".sh"):
            subprocess.run(["bash", "-n", str(path)], check=True, timeout=30)
        else:
            py_compile.compile(str(path), doraise=True)


def test_probe_script_reads_the_daemons_answers(tmp_path: Path) -> None:
    """Run probe.py's checks against canned answers of the daemons (the real ones come with the image)."""
    path = tmp_path / "probe.py"
    path.write_text(render_scripts()["probe.py"])
    namespace: dict[str, Any] = {"__name__": "probe"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    answers = {
        "/json/": {"status": "ALIVE", "masterurl": "spark://m:7077"},
        "/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo": {"beans": [{"Safemode": ""}]},
        "/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo": {
            "beans": [{"BPServiceActorInfo": '[{"ActorState": "RUNNING"}]'}]
        },
    }
    namespace["get_json"] = lambda port, path: answers[path]
    for check in ("spark-master", "spark-worker", "namenode", "datanode"):
        assert namespace["CHECKS"][check]()[0] is True, check
    answers["/json/"] = {"status": "RECOVERING", "masterurl": ""}
    answers["/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"] = {
        "beans": [{"Safemode": "Safe mode is ON."}]
    }
    answers["/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo"] = {
        "beans": [{"BPServiceActorInfo": '[{"ActorState": "CONNECTING"}]'}]
    }
    for check in ("spark-master", "spark-worker", "namenode", "datanode"):
        assert namespace["CHECKS"][check]()[0] is False, check
