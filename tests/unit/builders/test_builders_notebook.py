"""An EMRNotebook's Deployment (kemr.builders.notebook): its exact manifest, pinned in a golden file, and what
it must and must not be."""

from __future__ import annotations

from typing import Any

import pytest
from golden_support import (
    EXAMPLES,
    GOLDEN,
    dump,
    load_example,
    resolve_example,
    resolve_spec,
    small_spec,
    update_requested,
)

from kemr.api.notebook import EMRNotebookSpec
from kemr.builders.notebook import build_notebook_deployment
from kemr.builders.policy import build_network_policy
from kemr.config import OperatorConfig, ReleaseOverride

GOLDEN_FILE = GOLDEN / "notebook-full.yaml"


def _spec(**fields: Any) -> EMRNotebookSpec:
    base: dict[str, Any] = {
        "clusterRef": {"name": "sales"},
        "s3Location": "s3://team/notebooks/alice/",
        "auth": {"tokenSecretRef": {"name": "alice-jupyter"}},
    }
    return EMRNotebookSpec.model_validate({**base, **fields})


def _build(**fields: Any) -> dict[str, Any]:
    resolved = resolve_example(EXAMPLES["full"])
    cluster_overrides = load_example(EXAMPLES["full"])["spec"].get("podOverrides")
    return build_notebook_deployment(resolved, "alice", _spec(**fields), cluster_overrides)


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_notebook_deployment_matches_golden_file() -> None:
    actual = (
        "# Golden: the EMRNotebook alice on tests/unit/builders/examples/full.yaml. UPDATE_GOLDEN=1\n"
        + dump([_build(resources={"cpu": "2", "memory": "4Gi"})])
    )
    if update_requested():
        GOLDEN_FILE.write_text(actual)
    assert actual == GOLDEN_FILE.read_text(), "review, then UPDATE_GOLDEN=1 uv run pytest tests/unit/builders"


def test_one_pod_at_a_time_with_a_selector_that_survives_a_re_attach() -> None:
    deployment = _build()
    assert deployment["metadata"]["name"] == "alice-notebook"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "kemr.io/role": "notebook",
        "kemr.io/notebook": "alice",
    }
    assert "ownerReferences" not in deployment["metadata"]  # the apply layer makes the EMRNotebook its owner


def test_the_clusters_network_policy_admits_the_notebooks_pod() -> None:
    resolved = resolve_example(EXAMPLES["full"])
    policy = build_network_policy(resolved)
    assert policy is not None
    labels = _build()["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert labels["kemr.io/role"] == "notebook"


def test_the_token_comes_from_the_secret_and_nothing_secret_is_in_the_manifest() -> None:
    env = {e["name"]: e for e in _container(_build())["env"]}
    assert env["KEMR_NOTEBOOK_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "alice-jupyter", "key": "token"}
    }
    assert env["KEMR_NOTEBOOK"]["value"] == "alice"
    assert env["KEMR_NOTEBOOK_S3_URI"]["value"] == "s3://team/notebooks/alice/"
    assert "KEMR_POD_IP" in env
    assert {"SPARK_CONF_DIR", "HADOOP_CONF_DIR"} <= env.keys()
    password = _container(_build(auth={"passwordSecretRef": {"name": "pw", "key": "pass"}}))
    names = {e["name"]: e for e in password["env"]}
    assert "KEMR_NOTEBOOK_TOKEN" not in names
    assert names["KEMR_NOTEBOOK_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "pw", "key": "pass"}


def test_it_runs_restricted_with_the_drivers_client_configuration() -> None:
    resolved = resolve_example(EXAMPLES["full"])
    deployment = _build()
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 185
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    config = next(v for v in pod["volumes"] if v["name"] == "config")
    assert config["configMap"]["name"] == resolved.client_config_map_name
    assert {"mountPath": "/tmp", "name": "tmp"} in container["volumeMounts"]
    assert container["image"] == "ghcr.io/kemr-io/kemr-notebook:kemr-1.0"
    assert container["command"] == ["kemr-notebook"]
    assert container["ports"] == [{"name": "jupyter", "containerPort": 8888}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/api", "port": 8888}
    assert pod["nodeSelector"] == {"karpenter.sh/capacity-type": "on-demand"}  # as the master and drivers


def test_the_notebooks_pod_overrides_merge_after_the_clusters_and_owned_fields_stay() -> None:
    deployment = _build(
        podOverrides={
            "metadata": {"labels": {"team": "data", "kemr.io/notebook": "hijack"}},
            "spec": {"containers": [{"name": "notebook", "image": "evil", "workingDir": "/tmp"}]},
        }
    )
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "data"
    assert template["metadata"]["labels"]["kemr.io/notebook"] == "alice"
    assert _container(deployment)["image"] == "ghcr.io/kemr-io/kemr-notebook:kemr-1.0"
    assert _container(deployment)["workingDir"] == "/tmp"


@pytest.mark.parametrize("image", [None, "registry.internal/nb:1"])
def test_the_image_is_the_releases_and_can_be_configured(image: str | None) -> None:
    config = OperatorConfig(releases={"kemr-1.0": ReleaseOverride(notebook_image=image)})
    resolved = resolve_spec(small_spec(), config)
    container = build_notebook_deployment(resolved, "bob", _spec())["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert container["image"] == (image or "ghcr.io/kemr-io/kemr-notebook:kemr-1.0")
