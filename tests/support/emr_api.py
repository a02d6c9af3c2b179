"""kemr's EMR API (`kemr emr-api`) as a process on this host, authenticating as the Helm chart's EMR API
ServiceAccount with exactly the chart's rules, and access keys as the docs tell users to create them."""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.emr_clients import Credentials
from support.helm import CHART, RBAC_KINDS, helm, token_kubeconfig
from support.kube import Kube
from support.operator import STARTED, free_port

RELEASE = "kemr-tests"
RELEASE_NAMESPACE = "kemr-tests"  # the tests' operators' namespace too (conftest's OPERATOR_NAMESPACE)
API_ACCOUNT = f"{RELEASE}-emr-api"  # the chart's name for the API's ServiceAccount in release kemr-tests


def emr_api_identity(kube: Kube, namespaces: list[str], key_namespace: str, path: Path) -> Path:
    """The chart's EMR API rules (emrApi.enabled, these namespaces, keys in `key_namespace`) installed
    without its Deployment; returns a kubeconfig authenticating as the API's ServiceAccount."""
    values = [
        "--set", "emrApi.enabled=true",
        "--set-json", f"emrApi.namespaces={json.dumps(namespaces)}",
        "--set", f"emrApi.keyNamespace={key_namespace}",
    ]  # fmt: skip
    rendered = helm("template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE, *values).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS and "emr-api" in json.dumps(d["metadata"])]
    for ns in {RELEASE_NAMESPACE, key_namespace}:
        kube.run("create", "namespace", ns, check=False)
    for ns in {d["metadata"]["namespace"] for d in rbac}:
        kube.apply(*[d for d in rbac if d["metadata"]["namespace"] == ns], namespace=ns)
    return token_kubeconfig(kube, API_ACCOUNT, RELEASE_NAMESPACE, path, duration="6h")


def create_key(kube: Kube, key_namespace: str, bound_to: str) -> Credentials:
    """An access key bound to namespace `bound_to`, as docs/emr-api.md has users create one."""
    creds = Credentials(
        access_key_id="AKIAKEMR" + secrets.token_hex(6).upper(),
        secret_access_key=secrets.token_urlsafe(30),
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"emr-key-{creds.access_key_id.lower()}",
            "labels": {"kemr.io/emr-api-key": "true"},
        },
        "stringData": {
            "accessKeyId": creds.access_key_id,
            "secretAccessKey": creds.secret_access_key,
            "namespace": bound_to,
        },
    }
    kube.apply(secret, namespace=key_namespace)
    return creds


@dataclass
class EmrApiProcess:
    """`kemr emr-api` on a free port; `endpoint` is what clients pass as their endpoint URL."""

    kubeconfig: Path
    key_namespace: str
    log_path: Path
    config: Path | None = None
    tls: tuple[Path, Path] | None = None  # (cert, key)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.port = free_port()

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "kemr.cli", "emr-api",
            f"--kubeconfig={self.kubeconfig}",
            f"--namespace={self.key_namespace}",
            f"--port={self.port}",
            "--metrics-port=0",
        ]  # fmt: skip
        if self.config:
            cmd.append(f"--config={self.config}")
        if self.tls:
            cmd += [f"--tls-cert-file={self.tls[0]}", f"--tls-key-file={self.tls[1]}"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        STARTED.append(self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kemr emr-api exited with {self.proc.returncode}; log: {self.log_path}")
            if self.healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"kemr emr-api not healthy after 30 s; log: {self.log_path}")

    def healthy(self) -> bool:
        context = ssl._create_unverified_context() if self.tls else None  # a local probe
        try:
            with urllib.request.urlopen(f"{self.endpoint}/healthz", timeout=2, context=context) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def raw_post(endpoint: str, target: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    """An unsigned or hand-signed request (for the refusal tests): the status and the JSON answer."""
    request = urllib.request.Request(
        endpoint + "/",
        data=json.dumps(body).encode(),
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
