"""The webhook's verdicts (controllers/webhook.py review) and its certificate (controllers/certs.py), pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509

from kemr.config import OperatorConfig
from kemr.controllers import certs
from kemr.controllers.webhook import review
from support.emr import cluster_manifest, step_manifest

CONFIG = OperatorConfig()
NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def _tiny() -> dict[str, Any]:
    core = [
        {
            "name": "core",
            "replicas": 1,
            "resources": {"cpu": "1", "memory": "1Gi"},
            "storage": {"size": "1Gi"},
        }
    ]
    return cluster_manifest("tiny", coreGroups=core)


def _request(
    obj: dict[str, Any], operation: str = "CREATE", old: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"uid": "u-1", "operation": operation, "object": obj, "oldObject": old}


def test_a_cluster_the_operator_could_only_fail_is_refused_naming_the_field() -> None:
    response = review("EMRCluster", _request(_tiny()), CONFIG)
    assert response["uid"] == "u-1"
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    message = response["status"]["message"]
    assert message.startswith(
        "EMRCluster tiny is invalid: spec.coreGroups[core].resources.memory: 1Gi is too small"
    )


def test_valid_objects_and_metadata_only_updates_are_allowed() -> None:
    assert review("EMRCluster", _request(cluster_manifest("fine")), CONFIG)["allowed"] is True
    assert review("EMRStep", _request(step_manifest("pi", "fine")), CONFIG)["allowed"] is True
    labelled = {**_tiny(), "metadata": {"name": "tiny", "labels": {"team": "data"}}}
    assert review("EMRCluster", _request(labelled, "UPDATE", _tiny()), CONFIG)["allowed"] is True
    deleting = {**_tiny(), "metadata": {"name": "tiny", "deletionTimestamp": "2026-11-30T00:00:00Z"}}
    assert review("EMRCluster", _request(deleting, "UPDATE", cluster_manifest("tiny")), CONFIG)["allowed"]


def test_a_spec_change_is_reviewed() -> None:
    response = review("EMRCluster", _request(_tiny(), "UPDATE", cluster_manifest("tiny")), CONFIG)
    assert response["allowed"] is False


def test_a_step_the_operator_could_only_fail_is_refused_with_the_minimum_named() -> None:
    step = step_manifest("small", "etl")
    step["spec"]["spark"]["driver"] = {"resources": {"cpu": "1", "memory": "512Mi"}}
    message = review("EMRStep", _request(step), CONFIG)["status"]["message"]
    assert "spec.spark.driver.resources.memory" in message
    assert "set at least 834Mi" in message


def test_a_spec_the_schema_should_have_refused_names_its_field() -> None:
    step = step_manifest("odd", "etl")
    step["spec"]["actionOnFailure"] = "EXPLODE"
    message = review("EMRStep", _request(step), CONFIG)["status"]["message"]
    assert "spec.actionOnFailure" in message


def test_a_check_that_crashes_allows_the_request(monkeypatch: Any) -> None:
    import kemr.controllers.webhook as webhook

    def boom(*_: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(webhook, "review_cluster", boom)
    assert review("EMRCluster", _request(_tiny()), CONFIG)["allowed"] is True


def test_the_certificate_serves_the_service_and_the_loopback_and_is_its_own_ca() -> None:
    cert = certs.generate(["kemr-webhook.kemr-system.svc"], NOW)
    parsed = x509.load_pem_x509_certificate(cert.cert_pem)
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["kemr-webhook.kemr-system.svc", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert parsed.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.due(NOW)
    assert cert.due(NOW + certs.VALIDITY - dt.timedelta(days=29))
    assert cert.names() == {"kemr-webhook.kemr-system.svc", "localhost", "127.0.0.1"}


def test_a_renewed_bundle_keeps_the_previous_certificate_until_it_expires() -> None:
    old = certs.generate(["a"], NOW)
    new = certs.generate(["a"], NOW + dt.timedelta(days=340))
    bundle = certs.ca_bundle(new, certs.ca_bundle(old, b"", NOW), NOW + dt.timedelta(days=340))
    assert bundle == new.cert_pem + old.cert_pem
    later = certs.ca_bundle(new, bundle, NOW + dt.timedelta(days=400))
    assert later == new.cert_pem


def test_a_service_name_longer_than_a_common_name_allows_still_gets_a_certificate() -> None:
    long_name = "kemr-b6c2c7-webhook.t-test-chart-operator-on-the-real-node-run-826c78.svc"
    assert len(long_name) > 64
    cert = certs.generate([long_name], NOW)
    names = x509.load_pem_x509_certificate(cert.cert_pem).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert long_name in names.value.get_values_for_type(x509.DNSName)
