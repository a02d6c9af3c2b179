"""Fixtures of the EMR API tests: the API as a process with the chart's rules, two tenant namespaces and a
key bound to each, the operator running the clusters (kwok pools)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from support.emr_api import EmrApiProcess, create_key, emr_api_identity
from support.emr_clients import Credentials
from support.kube import Kube
from support.operator import OperatorProcess

KEY_NAMESPACE = "kemr-tests-emr-keys"
# kwok runs a driver pod only when told how it ends (cluster/manifests/kwok-stages.yaml): every step the API
# makes gets that through the API's stepDefaults, as a user's would get tolerations.
SIMULATED_DRIVERS = {
    "podOverrides": {
        "metadata": {"annotations": {"sim.kemr.io/exit-code": "0", "sim.kemr.io/duration": "2s"}}
    }
}


@dataclass
class Tenants:
    """Two namespaces, a key bound to each, and the API's endpoint."""

    endpoint: str
    a: str
    b: str
    key_a: Credentials
    key_b: Credentials
    api: EmrApiProcess


@pytest.fixture(scope="module")
def tenants(
    operator: OperatorProcess, crds: Kube, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tenants]:
    suffix = secrets.token_hex(3)
    a, b = f"t-emr-a-{suffix}", f"t-emr-b-{suffix}"
    for ns in (a, b):
        crds.run("create", "namespace", ns)
    workdir = tmp_path_factory.mktemp("emr-api")
    kubeconfig = emr_api_identity(crds, [a, b], KEY_NAMESPACE, workdir / "kubeconfig")
    config = workdir / "emr-api.yaml"
    config.write_text(yaml.safe_dump({"stepDefaults": SIMULATED_DRIVERS}))
    api = EmrApiProcess(kubeconfig, KEY_NAMESPACE, workdir / "emr-api.log", config=config)
    api.start()
    try:
        yield Tenants(
            api.endpoint, a, b, create_key(crds, KEY_NAMESPACE, a), create_key(crds, KEY_NAMESPACE, b), api
        )
    finally:
        api.stop()
        print(f"EMR API log: {api.log_path}")
        for ns in (a, b):
            crds.run("delete", "namespace", ns, "--wait=false", check=False)
