"""helm from the local cluster's tool cache, and the chart's own identity for operators the tests run.

The operators the integration and e2e tests start run as the Helm chart's ServiceAccount with exactly the
chart's rules (issue 13: a test run with admin credentials can't see a call the chart forbids)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support.kube import Kube
from support.operator import WEBHOOK_PORT

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kemr"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def _cluster_env() -> dict[str, str]:
    """KUBECONFIG from cluster/env.sh; helm's versioned path from cluster/lib.sh (`make setup` builds it,
    before the cluster's `current` links exist)."""
    out = subprocess.run([REPO / "cluster" / "env.sh"], capture_output=True, text=True, check=True).stdout
    env = dict(re.findall(r"^export (KEMR_BIN|KUBECONFIG)=(\S+)$", out, re.M))
    lib = REPO / "cluster" / "lib.sh"
    script = f'. "{lib}"; printf %s "$HELM_BIN/helm"'
    env["HELM"] = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    return env


ENV = _cluster_env()
HELM = ENV["HELM"]
KUBECONFIG = ENV["KUBECONFIG"]


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if not Path(HELM).exists():
        raise AssertionError(f"{HELM} is missing: `make setup` builds it")
    proc = subprocess.run(
        [HELM, f"--kubeconfig={KUBECONFIG}", *args], capture_output=True, text=True, timeout=120
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def values_args(values: dict[str, Any] | None) -> list[str]:
    """`--set-json` for each top-level value (exact types, no string guessing)."""
    return [
        arg for key, value in (values or {}).items() for arg in ("--set-json", f"{key}={json.dumps(value)}")
    ]


def token_kubeconfig(kube: Kube, account: str, namespace: str, path: Path, duration: str = "1h") -> Path:
    """A kubeconfig authenticating as ServiceAccount `namespace/account` (a bound token), as in the pod."""
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    token = kube.run("create", "token", account, "-n", namespace, f"--duration={duration}").stdout.strip()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [
            {"name": "operator", "context": {"cluster": admin["clusters"][0]["name"], "user": "operator"}}
        ],
        "current-context": "operator",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


# What a host process needs beyond the chart: an operator in the cluster reaches a NameNode's JMX directly;
# one on the host (the tests') goes through the apiserver's service proxy (kemr/controllers/scaling.py).
HOST_PROCESS_RULES = [{"apiGroups": [""], "resources": ["services/proxy"], "verbs": ["get"]}]


WEBHOOK_KIND = "ValidatingWebhookConfiguration"


def loopback_webhooks(configuration: dict[str, Any], port: int) -> dict[str, Any]:
    """The chart's webhook configuration calling https://127.0.0.1:PORT (a host process) instead of its
    Service, with the same paths."""
    webhooks = [
        {**w, "clientConfig": {"url": f"https://127.0.0.1:{port}{w['clientConfig']['service']['path']}"}}
        for w in configuration["webhooks"]
    ]
    return {**configuration, "webhooks": webhooks}


def chart_identity(
    kube: Kube,
    path: Path,
    release: str = "kemr-tests",
    namespace: str = "kemr-tests",
    webhook_port: int = WEBHOOK_PORT,
) -> Path:
    """The chart's ServiceAccount and rules (cluster-wide mode, default values) installed without its
    Deployment, plus HOST_PROCESS_RULES, and its webhook configuration calling `webhook_port` on this host;
    returns a kubeconfig authenticating as that ServiceAccount (valid
    6 h). Its Lease Role is in `namespace`: run the operator with POD_NAMESPACE=namespace."""
    rendered = helm("template", release, str(CHART), "--namespace", namespace).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    # The chart's webhook configuration, calling the host-process operator on the loopback address.
    webhooks = [loopback_webhooks(d, webhook_port) for d in docs if d["kind"] == WEBHOOK_KIND]
    host = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{release}-host-process"},
            "rules": HOST_PROCESS_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{release}-host-process"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"{release}-host-process",
            },
            "subjects": [{"kind": "ServiceAccount", "name": release, "namespace": namespace}],
        },
    ]
    kube.run("create", "namespace", namespace, check=False)
    kube.apply(*rbac, *host, *webhooks, namespace=namespace)
    return token_kubeconfig(kube, release, namespace, path, duration="6h")
