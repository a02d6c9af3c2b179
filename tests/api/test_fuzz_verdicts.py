"""Fuzz (issue 13): generated EMRCluster specs, the operator's verdict against the apiserver's dry-run.

1,000 specs from a hypothesis strategy aimed at the rules (quantities, group names and sizes, owned and
replication-bearing configuration keys, termination flags). For each, the apiserver's server-side dry-run (the
CRD schema, its CEL rules and the operator's validating webhook) and the operator's own verdict (parse,
validate, resolve, build) must agree:

- a spec the apiserver refuses, the operator refuses too (it never builds children for one);
- a spec the apiserver accepts, the operator builds: what only the operator can tell (sizing, releases, owned
  keys) its webhook refused already, naming a `spec.` field — never with an exception, never in a loop.
The sequence is derandomized: the same 1,000 specs in every run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kemr.api import EMRClusterSpec
from kemr.builders import build_children
from kemr.config import OperatorConfig
from kemr.resolve import ResolveError, resolve_cluster
from kemr.validate import validate_cluster
from support.kube import Kube
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(900)

QUANTITIES = [
    "0",
    "1",
    "100m",
    "500m",
    "2",
    "40",
    "128Mi",
    "512Mi",
    "1Gi",
    "2Gi",
    "4Gi",
    "1.5Gi",
    "-1",
    "abc",
]
NAMES = ["core", "core-b", "spot", "x", "UPPER", "a" * 20]
KEYS = [
    "spark.master",
    "spark.sql.shuffle.partitions",
    "spark.executor.memory",
    "dfs.replication",
    "fs.defaultFS",
    "spark.eventLog.dir",
]
VALUES = ["1", "2", "3", "9", "local[*]", "abc", "4g"]

resources = st.fixed_dictionaries(
    {}, optional={"cpu": st.sampled_from(QUANTITIES), "memory": st.sampled_from(QUANTITIES)}
)
storage = st.fixed_dictionaries({"size": st.sampled_from(QUANTITIES)})
core_group = st.fixed_dictionaries(
    {"name": st.sampled_from(NAMES)},
    optional={"replicas": st.integers(1, 5), "resources": resources, "storage": storage},
)
task_group = st.fixed_dictionaries(
    {"name": st.sampled_from(NAMES), "maxReplicas": st.integers(1, 5)},
    optional={
        "capacityType": st.sampled_from(["spot", "on-demand", "spot", "cheap"]),
        "minReplicas": st.integers(0, 3),
        "resources": resources,
    },
)
configuration = st.fixed_dictionaries(
    {"classification": st.sampled_from(["spark-defaults", "hdfs-site", "core-site", "spark-env", "Bogus"])},
    optional={"properties": st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)},
)
specs = st.fixed_dictionaries(
    {"coreGroups": st.lists(core_group, max_size=3)},
    optional={
        "release": st.sampled_from(["kemr-1.0", "kemr-9.9"]),
        "applications": st.sampled_from([["Spark", "HDFS"], ["Spark"], ["Spark", "HDFS"], ["HDFS"]]),
        "master": st.fixed_dictionaries({}, optional={"resources": resources, "storage": storage}),
        "taskGroups": st.lists(task_group, max_size=2),
        "configurations": st.lists(configuration, max_size=3),
        "stepConcurrency": st.integers(1, 3),
        "terminate": st.booleans(),
        "terminationProtected": st.booleans(),
        "autoTermination": st.fixed_dictionaries(
            {},
            optional={
                "idleTimeoutSeconds": st.sampled_from([60, 300, 3600, 30]),
                "keepAliveWhenNoSteps": st.booleans(),
            },
        ),
    },
)


def operator_verdict(spec: dict[str, Any]) -> str | None:
    """None when the operator would build the cluster; else why not, naming the field."""
    try:
        parsed = EMRClusterSpec.model_validate(spec)
    except ValidationError as err:
        first = err.errors()[0]
        return "spec." + ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]
    issues = validate_cluster(parsed)
    if issues:
        return str(issues[0])
    try:
        build_children(
            resolve_cluster("fuzz", "fuzz", "00000000-0000-4000-8000-000000000000", parsed, OperatorConfig())
        )
    except ResolveError as err:
        return f"{err.field}: {err.message}"
    return None


@pytest.fixture(scope="module")
def objects(crds: Kube) -> k8s.CustomObjectsApi:
    api_client = k8s_config.new_client_from_config(config_file=str(crds.kubeconfig))
    return k8s.CustomObjectsApi(api_client)


@pytest.fixture(scope="module")
def fuzz_namespace(crds: Kube) -> str:
    name = "kemr-fuzz"
    crds.run("create", "namespace", name, check=False)
    return name


def apiserver_verdict(api: k8s.CustomObjectsApi, namespace: str, spec: dict[str, Any]) -> str | None:
    body = {
        "apiVersion": "kemr.io/v1alpha1",
        "kind": "EMRCluster",
        "metadata": {"name": "fuzz"},
        "spec": spec,
    }
    try:
        api.create_namespaced_custom_object(
            "kemr.io", "v1alpha1", namespace, "emrclusters", body, dry_run="All"
        )
    except ApiException as err:
        if err.status in (400, 422):
            return str(err.body)[:300]
        raise
    return None


def test_the_operators_verdict_is_the_apiservers_and_it_never_crashes(
    operator: OperatorProcess,  # its webhook answers the dry runs
    objects: k8s.CustomObjectsApi,
    fuzz_namespace: str,
) -> None:
    tally: Counter[str] = Counter()
    disagreements: list[str] = []

    @settings(max_examples=1000, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(specs)
    def check(spec: dict[str, Any]) -> None:
        server = apiserver_verdict(objects, fuzz_namespace, spec)
        ours = operator_verdict(spec)  # an exception here is a crash: the test fails with it
        tally[
            f"apiserver {'refused' if server else 'accepted'}, operator {'refused' if ours else 'accepted'}"
        ] += 1
        if bool(server) != bool(ours):
            disagreements.append(f"{spec}\n  apiserver: {server}\n  operator: {ours}")
        if ours:
            assert ours.startswith("spec."), ours

    check()
    print(dict(tally))
    assert not disagreements, (
        f"{len(disagreements)} specs on which the apiserver and the operator disagree:\n"
        + "\n".join(disagreements[:5])
    )
    assert sum(tally.values()) >= 1000
