"""The chart renders what a user relies on: a restricted operator pod, least-privilege RBAC in both modes, a
configuration the operator accepts for every placement preset, and monitoring objects only where their API
exists. No cluster is touched (helm template / lint only)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from chart_support import CHART, MONITORING_API, REPO, helm, of_kind, only, render, render_text
from prometheus_client import Counter, Gauge, Histogram

import kemr
import kemr.metrics
from kemr.api.admission import build_validating_webhook
from kemr.config import OperatorConfig, PlacementPreset

NAMESPACED = {"watchNamespaces": ["team-a", "team-b"]}
MONITORING = {
    "metrics": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "dashboard": {"enabled": True},
    }
}


@pytest.mark.parametrize(
    "values", [{}, NAMESPACED, MONITORING], ids=["cluster-wide", "namespaced", "monitoring"]
)
def test_helm_lint_passes(values: dict[str, Any]) -> None:
    from chart_support import values_args

    out = helm("lint", str(CHART), "--strict", *values_args(values))
    assert "0 chart(s) failed" in out.stdout


def test_chart_app_version_is_the_operators_and_the_default_image_tag() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == kemr.__version__
    [container] = only(render(), "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/kemr-io/kemr-operator:{kemr.__version__}"


def test_operator_pod_meets_pod_security_restricted() -> None:
    pod = only(render(), "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert all("hostPath" not in v for v in pod["volumes"])
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/tmp" in mounts  # the only writable place on a read-only root filesystem


def test_operator_pod_runs_kemr_in_cluster_with_probes_and_its_namespace() -> None:
    deployment = only(render(), "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["KEMR_CONFIG"]["value"] == "/etc/kemr-operator/config.yaml"
    args = container["args"]
    assert args[0] == "run"
    assert "--leader-elect" in args
    assert not any(a.startswith(("--kubeconfig", "--namespace")) for a in args)  # in-cluster, all namespaces
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http-health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http-metrics": 8080, "http-health": 8081, "https-webhook": 9443}
    assert deployment["spec"]["replicas"] == 1


def test_standbys_roll_with_a_surge_and_no_leader_election_means_recreate() -> None:
    assert only(render(), "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"
    off = only(render({"leaderElection": {"enabled": False}}), "Deployment")
    assert off["spec"]["strategy"] == {"type": "Recreate"}
    assert "--no-leader-elect" in off["spec"]["template"]["spec"]["containers"][0]["args"]


def _rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for o in objects if o["kind"] in ("Role", "ClusterRole") for r in o["rules"]]


@pytest.mark.parametrize("values", [{}, NAMESPACED], ids=["cluster-wide", "namespaced"])
def test_rbac_has_no_wildcards_and_reads_no_secrets_but_the_webhooks_own(values: dict[str, Any]) -> None:
    """Secrets: the operator reads and updates its webhook certificate's; elsewhere it may create them (a
    DataCatalog's generated database password) and get one by name (an EMRNotebook's token), never list,
    watch or change one."""
    objects = render(values, namespace="kemr-system")
    for rule in _rules(objects):
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
        assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"]), rule
    data_plane = "ClusterRole" if not values.get("watchNamespaces") else "Role"
    data_plane_secret_rules = [
        r
        for o in of_kind(objects, data_plane)
        if o["metadata"]["name"] == "kemr"
        for r in o["rules"]
        if "secrets" in r["resources"]
    ]
    assert data_plane_secret_rules, "no rule to create a DataCatalog's database Secret"
    assert all(
        r == {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get"]}
        for r in data_plane_secret_rules
    )
    secret_roles = [
        o
        for o in of_kind(objects, "Role")
        if o["metadata"]["name"] != "kemr" and any("secrets" in r["resources"] for r in o["rules"])
    ]
    assert [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in secret_roles] == [
        ("kemr-system", "kemr-webhook")
    ]
    assert secret_roles[0]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["kemr-webhook-cert"],
            "verbs": ["get", "update"],
        },
    ]
    for role in of_kind(objects, "ClusterRole"):
        assert all(
            r["verbs"] in (["create"], ["create", "get"])
            for r in role["rules"]
            if "secrets" in r["resources"]
        ), role["metadata"]["name"]


def test_the_webhook_is_the_operators_and_its_rbac_only_reaches_its_own_configuration() -> None:
    objects = render({"watchNamespaces": ["team-a"]}, namespace="kemr-system")
    configuration = only(objects, "ValidatingWebhookConfiguration")
    expected = build_validating_webhook(
        "kemr", {"service": {"name": "kemr-webhook", "namespace": "kemr-system", "port": 443}}, ["team-a"]
    )
    assert configuration["webhooks"] == expected["webhooks"]
    assert only(objects, "ClusterRole")["rules"] == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations"],
            "resourceNames": ["kemr"],
            "verbs": ["get", "patch"],
        }
    ]
    service = next(s for s in of_kind(objects, "Service") if s["metadata"]["name"] == "kemr-webhook")
    args = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--webhook-port=9443" in args
    assert "--webhook-configuration=kemr" in args
    assert "--webhook-secret=kemr-webhook-cert" in args
    assert "--webhook-dns-name=kemr-webhook.kemr-system.svc" in args
    assert service["spec"]["ports"][0]["targetPort"] == "https-webhook"
    off = render({"webhook": {"enabled": False}})
    assert not of_kind(off, "ValidatingWebhookConfiguration")
    assert not [
        a
        for a in only(off, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
        if "webhook" in a
    ]


def test_namespaced_mode_grants_only_roles_in_the_watched_namespaces() -> None:
    objects = render(NAMESPACED, namespace="kemr-system")
    # Cluster-wide only: the webhook configuration's caBundle (see the webhook test above).
    assert [r["metadata"]["name"] for r in of_kind(objects, "ClusterRole")] == ["kemr-webhook"]
    assert [r["metadata"]["name"] for r in of_kind(objects, "ClusterRoleBinding")] == ["kemr-webhook"]
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in of_kind(objects, "Role")}
    assert roles == {
        ("team-a", "kemr"),
        ("team-b", "kemr"),
        ("kemr-system", "kemr-leader-election"),
        ("kemr-system", "kemr-webhook"),
    }
    for binding in of_kind(objects, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kemr", "namespace": "kemr-system"}]
    args = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--namespace")] == ["--namespace=team-a", "--namespace=team-b"]


def test_leader_election_lease_is_limited_to_its_name() -> None:
    role = next(r for r in of_kind(render(), "Role") if r["metadata"]["name"].endswith("leader-election"))
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["kemr-operator"],
            "verbs": ["get", "update"],
        },
    ]


def _config(values: dict[str, Any]) -> OperatorConfig:
    configmap = only(render(values), "ConfigMap")
    return OperatorConfig.model_validate(yaml.safe_load(configmap["data"]["config.yaml"]))


CUSTOM = {
    "preset": "custom",
    "onDemand": {"nodeSelector": {"pool": "standard"}},
    "spot": {
        "nodeSelector": {"pool": "spot"},
        "tolerations": [{"key": "pool", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}],
    },
}


@pytest.mark.parametrize("preset", [p.value for p in PlacementPreset])
def test_every_placement_preset_renders_a_config_the_operator_accepts(preset: str) -> None:
    placement = CUSTOM if preset == "custom" else {"preset": preset}
    config = _config({"config": {"placement": placement}})
    assert config.placement.preset.value == preset
    if preset == "custom":
        assert config.placement.for_spot().node_selector == {"pool": "spot"}


def test_default_config_pins_the_data_plane_image_and_lets_the_operator_through_network_policies() -> None:
    config = _config({})
    assert config.placement.preset is PlacementPreset.KARPENTER
    assert config.release("kemr-1.0").image_or_default("kemr-1.0") == "ghcr.io/kemr-io/kemr-spark:kemr-1.0"
    assert config.operator_peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kemr-system"}},
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "kemr",
                "app.kubernetes.io/instance": "kemr",
                "app.kubernetes.io/component": "operator",
            }
        },
    }
    labels = only(render(), "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert config.operator_peer["podSelector"]["matchLabels"].items() <= labels.items()


def test_a_config_change_rolls_the_operator() -> None:
    def config_hash(values: dict[str, Any]) -> str:
        meta = only(render(values), "Deployment")["spec"]["template"]["metadata"]
        return str(meta["annotations"]["kemr.io/config-hash"])

    assert config_hash({}) != config_hash({"config": {"placement": {"preset": "gke"}}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config": {"placment": {"preset": "gke"}}}, "additional properties 'placment' not allowed"),
        ({"config": {"placement": {"preset": "custom"}}}, "missing properties 'onDemand', 'spot'"),
        ({"config": {"placement": {"preset": "openshift"}}}, "/config/placement/preset"),
        ({"leaderElection": {"enabled": False}, "replicaCount": 2}, "/replicaCount"),
        ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
        ({"metrics": {"prometheusRule": {"operatorDownFor": "five minutes"}}}, "operatorDownFor"),
        ({"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
    ],
    ids=[
        "typo",
        "custom-incomplete",
        "unknown-preset",
        "replicas-without-lease",
        "bad-namespace",
        "duration",
        "no-service-account",
    ],
)
def test_schema_rejects_values_naming_the_field(values: dict[str, Any], message: str) -> None:
    from chart_support import values_args

    proc = helm("template", "kemr", str(CHART), *values_args(values), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


def test_monitoring_objects_need_their_api_even_when_enabled() -> None:
    kinds = {o["kind"] for o in render(MONITORING)}
    assert not {"ServiceMonitor", "PrometheusRule"} & kinds
    assert "ConfigMap" in kinds  # the dashboard needs no CRD
    with_api = {o["kind"] for o in render(MONITORING, extra=("--api-versions", MONITORING_API))}
    assert {"ServiceMonitor", "PrometheusRule"} <= with_api
    assert not {"ServiceMonitor", "PrometheusRule"} & {
        o["kind"] for o in render({}, extra=("--api-versions", MONITORING_API))
    }


def _monitoring() -> list[dict[str, Any]]:
    return render(MONITORING, extra=("--api-versions", MONITORING_API))


def test_service_monitor_scrapes_the_metrics_service() -> None:
    objects = _monitoring()
    monitor = only(objects, "ServiceMonitor")
    [service] = [s for s in of_kind(objects, "Service") if s["metadata"]["name"] == "kemr-metrics"]
    assert monitor["apiVersion"] == MONITORING_API
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["kemr-system"]}
    [endpoint] = monitor["spec"]["endpoints"]
    [port] = service["spec"]["ports"]
    assert endpoint["port"] == port["name"] == "http-metrics"
    assert endpoint["path"] == "/metrics"
    assert port["port"] == 8080


# The operator's metric names as exposed (a histogram is _bucket/_sum/_count, a counter _total).
def _exposed_names() -> set[str]:
    names: set[str] = set()
    for metric in vars(kemr.metrics).values():
        if isinstance(metric, Counter):
            names.add(f"{metric._name}_total")
        elif isinstance(metric, Histogram):
            names |= {f"{metric._name}{suffix}" for suffix in ("_bucket", "_sum", "_count")}
        elif isinstance(metric, Gauge):
            names.add(metric._name)
    return names


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bkemr_[a-z_]+", expr))


def test_prometheus_rule_alerts_use_the_operators_metrics() -> None:
    rule = only(_monitoring(), "PrometheusRule")
    assert rule["apiVersion"] == MONITORING_API
    [group] = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) >= {"KemrOperatorDown", "KemrReconcileErrors", "KemrClusterStuck", "KemrStepsFailed"}
    known = _exposed_names()
    for name, alert in alerts.items():
        assert set(alert) <= {"alert", "expr", "for", "labels", "annotations"}, name
        assert alert["labels"]["severity"] in ("critical", "warning")
        assert alert["annotations"]["summary"]
        assert _metric_names(alert["expr"]) <= known, (name, alert["expr"])
        assert alert["expr"].count("(") == alert["expr"].count(")"), name
    assert 'up{job="kemr-metrics", namespace="kemr-system"}' in alerts["KemrOperatorDown"]["expr"]


def test_grafana_dashboard_is_labelled_for_the_sidecar_and_uses_the_operators_metrics() -> None:
    configmap = next(o for o in _monitoring() if o["metadata"]["name"] == "kemr-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["kemr-operator.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set().union(*(_metric_names(e) for e in exprs))
    assert used <= _exposed_names()
    assert {"kemr_clusters", "kemr_steps", "kemr_reconciles_total"} <= used


def test_chart_crds_are_the_generated_ones() -> None:
    """Run `make manifests` after `make crds` when this fails."""
    generated = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    assert sorted(p.name for p in (CHART / "crds").glob("*.yaml")) == generated
    for name in generated:
        assert (CHART / "crds" / name).read_text() == (REPO / "crds" / name).read_text(), name


def test_install_manifest_is_up_to_date() -> None:
    """manifests/install.yaml is the chart rendered with default values: `make manifests` regenerates it."""
    import subprocess

    fresh = subprocess.run(
        [REPO / "charts" / "render-install.sh"], capture_output=True, text=True, check=True
    ).stdout
    assert (REPO / "manifests" / "install.yaml").read_text() == fresh, "stale: run `make manifests`"
    assert render_text(namespace="kemr-system") in fresh
