"""The models read what users write (API.md's shape, the examples) and write what Kubernetes wants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kemr.api import (
    ActionOnFailure,
    Application,
    CapacityType,
    ClusterState,
    ClusterStateChangeReasonCode,
    EMRClusterSpec,
    EMRClusterStatus,
    EMRStepSpec,
    EMRStepStatus,
    StepState,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"

# The EMRCluster of API.md, as written there.
API_MD_CLUSTER = """
spec:
  release: kemr-1.0
  applications: [Spark, HDFS]
  images: {}
  master:
    resources: {cpu: "1", memory: 4Gi}
    storage: {size: 10Gi, storageClassName: null}
  coreGroups:
  - name: core
    replicas: 3
    resources: {cpu: "4", memory: 16Gi}
    storage: {size: 100Gi}
  taskGroups:
  - name: spot
    capacityType: spot
    minReplicas: 0
    maxReplicas: 20
    resources: {cpu: "4", memory: 16Gi}
    spotFallback: {afterSeconds: 300}
  managedScaling: {enabled: true, cooldownSeconds: 60, scaleDownStabilizationSeconds: 300}
  autoTermination:
    keepAliveWhenNoSteps: true
    idleTimeoutSeconds: 3600
    maxLifetimeSeconds: null
  terminationProtected: false
  stepConcurrency: 1
  configurations:
  - classification: spark-defaults
    properties: {spark.sql.shuffle.partitions: "64"}
  bootstrapActions:
  - {name: deps, script: s3://bucket/bootstrap.sh, args: []}
  s3:
    endpoint: null
    region: us-east-1
    credentials: {secretRef: {name: s3-creds}}
  logUri: s3://bucket/logs/
  podOverrides: {}
  steps: []
status:
  state: WAITING
  stateChangeReason: {code: ALL_STEPS_COMPLETED, message: all steps completed}
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "True", reason: Ready, message: ok, lastTransitionTime: "2026-01-02T03:04:05Z",
     observedGeneration: 3}
  endpoints: {master: "spark://sales-master.analytics.svc:7077", webUI: "http://sales-master.analytics.svc:8080",
              hdfs: "hdfs://sales-master.analytics.svc:8020"}
  groups: [{name: core, role: core, capacityType: on-demand, desired: 3, ready: 3}]
  readyGroups: 2/2
  steps: {pending: 0, running: 0, completed: 4, failed: 0, cancelled: 0}
  timeline: {created: "2026-01-02T03:00:00Z", ready: "2026-01-02T03:02:00Z"}
"""

API_MD_STEP = """
spec:
  clusterRef: {name: sales}
  actionOnFailure: CONTINUE
  spark:
    mainApplicationFile: s3a://bucket/jobs/sales_analysis.py
    mainClass: null
    args: [s3a://bucket/input/orders.csv, s3a://bucket/output/customer_sales/]
    conf: {spark.cores.max: "16", spark.executor.memory: 4g}
    pyFiles: []
    jars: []
    driver: {resources: {cpu: "1", memory: 2Gi}}
  retry: {maxAttempts: 1, backoffSeconds: 30}
  activeDeadlineSeconds: null
  cancel: false
status:
  state: COMPLETED
  stateChangeReason: {code: STEP_FAILURE, message: driver exited with 1}
  attempts: [{number: 1, driverPod: totals-attempt-1, startTime: "2026-01-02T03:04:05Z",
              endTime: "2026-01-02T03:05:05Z", exitCode: 0, outcome: COMPLETED}]
  attemptCount: 1
  failureDetails: {reason: STEP_FAILURE, message: "<last lines>", logFile: s3://bucket/logs/driver.log}
  conditions: []
  timeline: {created: "2026-01-02T03:04:00Z", started: "2026-01-02T03:04:05Z", ended: "2026-01-02T03:05:05Z"}
"""


def _load(text: str) -> dict[str, Any]:
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def test_api_md_cluster_parses() -> None:
    body = _load(API_MD_CLUSTER)
    spec = EMRClusterSpec.model_validate(body["spec"])
    assert spec.applications == [Application.SPARK, Application.HDFS]
    assert spec.core_groups[0].replicas == 3
    assert spec.core_groups[0].storage.size == "100Gi"
    assert spec.task_groups[0].capacity_type is CapacityType.SPOT
    assert spec.task_groups[0].spot_fallback is not None
    assert spec.s3 is not None
    assert spec.s3.credentials is not None
    assert spec.s3.credentials.secret_ref is not None
    assert spec.s3.credentials.secret_ref.access_key_id_key == "AWS_ACCESS_KEY_ID"
    assert spec.configurations[0].properties == {"spark.sql.shuffle.partitions": "64"}
    assert spec.master.storage.storage_class_name is None

    status = EMRClusterStatus.model_validate(body["status"])
    assert status.state is ClusterState.WAITING
    assert status.state_change_reason is not None
    assert status.state_change_reason.code is ClusterStateChangeReasonCode.ALL_STEPS_COMPLETED
    assert status.endpoints is not None
    assert status.endpoints.web_ui is not None
    assert status.to_dict()["endpoints"]["webUI"].startswith("http://")


def test_api_md_step_parses() -> None:
    body = _load(API_MD_STEP)
    spec = EMRStepSpec.model_validate(body["spec"])
    assert spec.cluster_ref.name == "sales"
    assert spec.action_on_failure is ActionOnFailure.CONTINUE
    assert spec.spark is not None
    assert spec.spark.conf["spark.executor.memory"] == "4g"
    assert spec.spark.driver.resources.memory == "2Gi"

    status = EMRStepStatus.model_validate(body["status"])
    assert status.state is StepState.COMPLETED
    assert status.attempts[0].driver_pod == "totals-attempt-1"


@pytest.mark.parametrize("name", ["emrcluster-basic.yaml", "emrstep-sparkpi.yaml"])
def test_examples_parse(name: str) -> None:
    body = _load((EXAMPLES / name).read_text())
    model = EMRClusterSpec if body["kind"] == "EMRCluster" else EMRStepSpec
    model.model_validate(body["spec"])


def test_basic_example_has_the_promised_shape() -> None:
    spec = EMRClusterSpec.model_validate(_load((EXAMPLES / "emrcluster-basic.yaml").read_text())["spec"])
    assert [(g.name, g.replicas) for g in spec.core_groups] == [("core", 2)]
    [task] = spec.task_groups
    assert (task.capacity_type, task.min_replicas, task.max_replicas) == (CapacityType.SPOT, 0, 4)


def test_to_dict_round_trips_camel_case_and_drops_unset() -> None:
    spec = EMRClusterSpec.model_validate(_load(API_MD_CLUSTER)["spec"])
    out = spec.to_dict()
    assert "coreGroups" in out
    assert "core_groups" not in out
    assert "images" in out
    assert out["images"] == {}
    assert "storageClassName" not in out["master"]["storage"]
    assert EMRClusterSpec.model_validate(out) == spec


def test_snake_case_construction_works() -> None:
    spec = EMRStepSpec.model_validate({"cluster_ref": {"name": "c"}, "command": {"args": ["true"]}})
    assert spec.to_dict()["clusterRef"] == {"name": "c"}


def test_quantities_accept_integers_from_the_apiserver() -> None:
    # `cpu: 4` is an int-or-string: the apiserver hands it back as an integer.
    spec = EMRClusterSpec.model_validate({"coreGroups": [{"name": "core", "resources": {"cpu": 4}}]})
    assert spec.core_groups[0].resources.cpu == "4"


def test_defaults_match_the_api() -> None:
    spec = EMRClusterSpec.model_validate({})
    assert spec.release == "kemr-1.0"
    assert spec.applications == [Application.SPARK, Application.HDFS]
    assert spec.master.storage.size == "10Gi"
    assert spec.auto_termination.keep_alive_when_no_steps is True
    assert spec.network_policy.enabled is True
    assert spec.terminate is False
    assert spec.termination_protected is False
    assert spec.step_concurrency == 1
    step = EMRStepSpec.model_validate({"clusterRef": {"name": "c"}, "command": {"args": ["true"]}})
    assert (step.retry.max_attempts, step.retry.backoff_seconds) == (1, 30)
    assert step.action_on_failure is ActionOnFailure.CONTINUE
    assert step.cancel is False


def test_images_are_keyed_by_application_name() -> None:
    spec = EMRClusterSpec.model_validate({"images": {"Spark": "registry.local/spark:3.5"}})
    assert spec.images is not None
    assert spec.images.spark == "registry.local/spark:3.5"
    assert spec.to_dict()["images"] == {"Spark": "registry.local/spark:3.5"}


@pytest.mark.parametrize(
    "spec",
    [
        {"release": "emr-6.0"},
        {"applications": ["Pig"]},
        {"stepConcurrency": 0},
        {"taskGroups": [{"name": "t", "maxReplicas": 0}]},
        {"coreGroups": [{"name": "Core"}]},
        {"coreGroups": [{"name": "core", "resources": {"memory": "lots"}}]},
        {"autoTermination": {"idleTimeoutSeconds": 10}},
        {"logUri": "http://bucket/logs"},
        {"bootstrapActions": [{"name": "x", "script": "relative/path.sh"}]},
    ],
)
def test_invalid_values_are_rejected_by_the_models(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EMRClusterSpec.model_validate(spec)
