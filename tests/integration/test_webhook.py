"""The operator's validating webhook against the local cluster's apiserver (issue 13, kind 2): a spec the
operator could only fail is refused at apply time, naming the field; while no operator answers, applies
succeed and the status says the same (failurePolicy Ignore); a stored object can always be labelled. The
webhook configuration is the chart's, pointed at the host-process operator (support/helm.py)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest
import yaml

from support.emr import cluster_manifest, step_manifest, wait_for_state
from support.kube import Kube
from support.operator import WEBHOOK_RELEASE, OperatorProcess

pytestmark = pytest.mark.timeout(300)

TINY_CORE = [
    {"name": "core", "replicas": 1, "resources": {"cpu": "1", "memory": "1Gi"}, "storage": {"size": "1Gi"}}
]
WORKER_TOO_SMALL = "spec.coreGroups[core].resources.memory: 1Gi is too small: the Spark worker would offer"


def test_specs_the_operator_could_only_fail_are_refused_at_apply_naming_the_field(
    operator: OperatorProcess, kube: Kube, namespace: str
) -> None:
    tiny = cluster_manifest("tiny", coreGroups=TINY_CORE)
    started = time.monotonic()
    refused = kube.apply(tiny, namespace=namespace, check=False)
    print(f"refused in {time.monotonic() - started:.2f} s (kubectl included)")
    assert refused.returncode != 0
    assert (
        'admission webhook "emrclusters.kemr.io" denied the request: EMRCluster tiny is invalid'
        in refused.stderr
    )
    assert WORKER_TOO_SMALL in refused.stderr
    dry_run = kube.run(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(tiny), check=False
    )
    assert dry_run.returncode != 0  # a GitOps diff (server-side dry run) sees the refusal too

    small_driver = step_manifest("small", "anywhere")
    small_driver["spec"]["spark"]["driver"] = {"resources": {"cpu": "1", "memory": "512Mi"}}
    refused = kube.apply(small_driver, namespace=namespace, check=False)
    assert refused.returncode != 0
    assert "spec.spark.driver.resources.memory: 512Mi leaves the driver JVM a heap of 128Mi" in refused.stderr
    assert "set at least 834Mi" in refused.stderr
    assert not kube.items("emrclusters,emrsteps", "-n", namespace)  # nothing stored

    # Valid objects pass, and the webhook's certificate is the one its configuration trusts.
    kube.apply(cluster_manifest("fine"), step_manifest("pi", "fine"), namespace=namespace)
    secret = kube.get("secret", "-n", "kemr-tests", f"{WEBHOOK_RELEASE}-webhook-cert")
    config = kube.get("validatingwebhookconfiguration", WEBHOOK_RELEASE)
    bundles = {w["clientConfig"]["caBundle"] for w in config["webhooks"]}
    assert bundles == {secret["data"]["ca.crt"]}
    assert base64.b64decode(secret["data"]["tls.crt"]) in base64.b64decode(secret["data"]["ca.crt"])
    metrics = operator.metrics()
    assert 'kemr_admission_reviews_total{kind="EMRCluster",verdict="refused"}' in metrics


def test_without_an_operator_answering_applies_succeed_and_the_status_says_why(
    kube: Kube, namespace: str, spawn_operator: Callable[..., OperatorProcess]
) -> None:
    # spawn_operator has stopped the session's operator: nothing answers the webhook (failurePolicy Ignore).
    started = time.monotonic()
    kube.apply(cluster_manifest("tiny", coreGroups=TINY_CORE), namespace=namespace)
    accepted = time.monotonic() - started
    print(f"accepted without a webhook in {accepted:.2f} s")
    assert accepted < 5

    spawn_operator("back").start()
    ended = wait_for_state(kube, namespace, "tiny", "TERMINATED_WITH_ERRORS", timeout=60)
    reason = ended["status"]["stateChangeReason"]
    assert reason["code"] == "VALIDATION_ERROR"
    assert WORKER_TOO_SMALL in reason["message"]
    assert not kube.items("statefulsets", "-n", namespace, "-l", "kemr.io/cluster=tiny")

    # The stored (invalid) object can still be labelled, changed and deleted (ratcheting: an update is
    # refused only for a problem it brings in).
    kube.run("label", "emrcluster", "tiny", "-n", namespace, "team=data")
    kube.apply(cluster_manifest("tiny", coreGroups=TINY_CORE, logUri="s3a://logs/tiny/"), namespace=namespace)
    owned = [{"classification": "spark-defaults", "properties": {"spark.master": "local[*]"}}]
    worse = cluster_manifest("tiny", coreGroups=TINY_CORE, logUri="s3a://logs/tiny/", configurations=owned)
    refused = kube.apply(worse, namespace=namespace, check=False)
    assert refused.returncode != 0
    assert "spark.master" in refused.stderr
    assert WORKER_TOO_SMALL not in refused.stderr  # the problem it already had is not held against it
    kube.run("delete", "emrcluster", "tiny", "-n", namespace, "--timeout=30s")
