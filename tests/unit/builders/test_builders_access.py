"""Who the pods are and who may reach them: S3 access, the ServiceAccount, the NetworkPolicy."""

from __future__ import annotations

from typing import Any

from golden_support import children_by_key, container, pod_spec, resolve_spec, small_spec

from kemr.api import Classification
from kemr.config import OperatorConfig


def _env(ctr: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in ctr["env"]}


def test_s3_secret_becomes_environment_and_s3a_settings() -> None:
    spec = small_spec(
        s3={
            "endpoint": "https://s3.example.com",
            "region": "eu-west-3",
            "credentials": {"secretRef": {"name": "creds", "sessionTokenKey": "token"}},
        }
    )
    resolved = resolve_spec(spec)
    core_site = resolved.client_configuration[Classification.CORE_SITE]
    assert core_site["fs.s3a.endpoint"] == "https://s3.example.com"
    assert core_site["fs.s3a.connection.ssl.enabled"] == "true"
    assert core_site["fs.s3a.endpoint.region"] == "eu-west-3"
    assert core_site["fs.s3a.path.style.access"] == "false"
    assert core_site["fs.s3a.aws.credentials.provider"].endswith("EnvironmentVariableCredentialsProvider")
    env = _env(container(children_by_key(resolved)[("Deployment", "sales-task-spot")], "spark-worker"))
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {
        "secretKeyRef": {"name": "creds", "key": "AWS_ACCESS_KEY_ID"}
    }
    assert env["AWS_SESSION_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "creds", "key": "token"}}
    assert env["AWS_REGION"]["value"] == "eu-west-3"
    # No credential ever lands in a ConfigMap.
    for child in children_by_key(resolved).values():
        if child["kind"] == "ConfigMap":
            assert "secretKeyRef" not in str(child)
            assert "creds" not in str(child)


def test_s3_is_read_through_s3a_for_s3_uris_too() -> None:
    core_site = resolve_spec(small_spec()).master.configuration[Classification.CORE_SITE]
    assert core_site["fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"


def test_workload_identity_uses_the_named_service_account() -> None:
    spec = small_spec(s3={"credentials": {"serviceAccountName": "s3-reader"}})
    children = children_by_key(resolve_spec(spec))
    assert not any(kind == "ServiceAccount" for kind, _ in children)
    for key in (("StatefulSet", "sales-master"), ("Deployment", "sales-task-spot")):
        assert pod_spec(children[key])["serviceAccountName"] == "s3-reader"


def test_own_service_account_has_no_token() -> None:
    children = children_by_key(resolve_spec(small_spec()))
    assert children[("ServiceAccount", "sales-sa")]["automountServiceAccountToken"] is False
    assert pod_spec(children[("StatefulSet", "sales-core-core")])["automountServiceAccountToken"] is False


def test_network_policy_admits_the_cluster_its_drivers_and_declared_clients() -> None:
    client = {"namespaceSelector": {"matchLabels": {"team": "bi"}}}
    config = OperatorConfig.model_validate(
        {"operatorPeer": {"namespaceSelector": {"matchLabels": {"n": "kemr"}}}}
    )
    policy = children_by_key(resolve_spec(small_spec(networkPolicy={"allowedClients": [client]}), config))[
        ("NetworkPolicy", "sales")
    ]
    own = {"matchLabels": {"kemr.io/cluster": "sales"}}
    assert policy["spec"]["podSelector"] == own
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [
        {"from": [{"podSelector": own}, client, {"namespaceSelector": {"matchLabels": {"n": "kemr"}}}]}
    ]


def test_network_policy_can_be_turned_off() -> None:
    children = children_by_key(resolve_spec(small_spec(networkPolicy={"enabled": False})))
    assert not any(kind == "NetworkPolicy" for kind, _ in children)


def test_services_publish_not_ready_pods_and_the_endpoints_ports() -> None:
    children = children_by_key(resolve_spec(small_spec()))
    client = children[("Service", "sales-master")]["spec"]
    assert "clusterIP" not in client
    assert client["publishNotReadyAddresses"] is True
    assert {p["name"]: p["port"] for p in client["ports"]} == {
        "spark": 7077,
        "spark-ui": 8080,
        "nn-rpc": 8020,
        "nn-http": 9870,
    }
    assert children[("Service", "sales-master-headless")]["spec"]["clusterIP"] == "None"
    assert children[("StatefulSet", "sales-master")]["spec"]["serviceName"] == "sales-master-headless"
    assert children[("StatefulSet", "sales-core-core")]["spec"]["serviceName"] == "sales-core-core"


def test_disruption_budgets() -> None:
    children = children_by_key(resolve_spec(small_spec()))
    assert children[("PodDisruptionBudget", "sales-master")]["spec"]["maxUnavailable"] == 0
    assert children[("PodDisruptionBudget", "sales-core-core")]["spec"]["maxUnavailable"] == 1
    assert not any(kind == "PodDisruptionBudget" and "task" in name for kind, name in children)
