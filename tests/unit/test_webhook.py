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


def test_an_update_is_refused_only_for_problems_it_brings_in() -> None:
    """A cluster stored while no webhook answered (or whose release was retired) can still be unprotected,
    terminated or deleted; a new problem is still refused."""
    stored = _tiny()
    stored["spec"]["terminationProtected"] = True
    unprotected = _tiny()
    unprotected["spec"]["terminationProtected"] = False
    assert review("EMRCluster", _request(unprotected, "UPDATE", stored), CONFIG)["allowed"] is True
    worse = _tiny()
    worse["spec"]["configurations"] = [
        {"classification": "spark-defaults", "properties": {"spark.master": "x"}}
    ]
    response = review("EMRCluster", _request(worse, "UPDATE", stored), CONFIG)
    assert response["allowed"] is False
    assert "spark.master" in response["status"]["message"]
    assert "1Gi is too small" not in response["status"]["message"]


def test_a_group_named_master_is_refused() -> None:
    manifest = cluster_manifest("x")
    manifest["spec"]["taskGroups"][0]["name"] = "master"
    message = review("EMRCluster", _request(manifest), CONFIG)["status"]["message"]
    assert "spec.taskGroups: group name master" in message


def test_the_drivers_exit_on_out_of_memory_is_the_operators() -> None:
    step = step_manifest("oom", "etl")
    step["spec"]["spark"]["conf"] = {"spark.driver.defaultJavaOptions": "-Dx=1"}
    message = review("EMRStep", _request(step), CONFIG)["status"]["message"]
    assert "spark.driver.extraJavaOptions" in message


def test_ip_names_are_compared_in_canonical_form_so_the_certificate_is_kept() -> None:
    cert = certs.generate(["fd00:0:0:0:0:0:0:10"], NOW)
    assert certs.canonical_names(["fd00:0:0:0:0:0:0:10"]) <= cert.names()


def test_a_damaged_or_foreign_certificate_secret_is_replaced() -> None:
    import asyncio
    import base64

    from support.fake_api import FakeApi

    api = FakeApi()
    damaged = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "kemr-webhook-cert", "namespace": "kemr-system"},
        "type": "kubernetes.io/tls",
        "data": {k: base64.b64encode(b"not a PEM").decode() for k in ("tls.crt", "tls.key", "ca.crt")},
    }
    api.put(damaged, "secrets")
    cert, bundle = asyncio.run(
        certs.ensure_serving_cert(api, "kemr-system", "kemr-webhook-cert", ["svc.ns.svc"])
    )
    assert "svc.ns.svc" in cert.names()
    assert bundle == cert.cert_pem
    again, _ = asyncio.run(certs.ensure_serving_cert(api, "kemr-system", "kemr-webhook-cert", ["svc.ns.svc"]))
    assert again == cert  # kept from then on


def test_the_ca_bundle_keeps_at_most_three_certificates() -> None:
    bundle = b""
    for day in range(6):
        now = NOW + dt.timedelta(days=day)
        bundle = certs.ca_bundle(certs.generate(["a"], now), bundle, now)
    assert len(x509.load_pem_x509_certificates(bundle)) == certs.BUNDLE_KEEP
