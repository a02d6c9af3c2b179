"""The generated CRDs are structural, bounded for CEL, carry the rules users rely on, and match crds/."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kemr.api import EMRClusterSpec, EMRStepSpec
from kemr.api.admission import build_termination_protection_policy
from kemr.api.crd import build_cluster_crd, build_crds, build_step_crd
from kemr.api.manifests import render_all, render_files

CRDS_DIR = Path(__file__).resolve().parents[2] / "crds"

Schema = dict[str, Any]


def _root(crd: dict[str, Any]) -> Schema:
    [version] = crd["spec"]["versions"]
    schema: Schema = version["schema"]["openAPIV3Schema"]
    return schema


def _walk(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}{{}}")


def _at(schema: Schema, path: str) -> Schema:
    node = schema
    for part in path.strip(".").split("."):
        node = node["properties"][part[:-2]]["items"] if part.endswith("[]") else node["properties"][part]
    return node


ALL_NODES = [
    pytest.param(path, node, id=f"{crd['spec']['names']['kind']}{path}")
    for crd in build_crds()
    for path, node in _walk(_root(crd))
]


@pytest.mark.parametrize(("path", "node"), ALL_NODES)
def test_every_node_is_structural(path: str, node: Schema) -> None:
    forbidden = {
        "$ref",
        "$defs",
        "title",
        "allOf",
        "oneOf",
        "not",
        "nullable",
        "uniqueItems",
        "const",
        "examples",
    }
    assert not forbidden & node.keys(), f"{path}: {forbidden & node.keys()}"
    if "anyOf" in node:
        assert node.get("x-kubernetes-int-or-string"), f"{path}: anyOf only for int-or-string"
    else:
        assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}, path
    if node.get("type") == "object" and path != ".metadata":  # metadata: the apiserver's own schema
        has_properties = "properties" in node
        has_map = isinstance(node.get("additionalProperties"), dict)
        assert has_properties or has_map or node.get("x-kubernetes-preserve-unknown-fields"), path
        assert not (has_properties and has_map), path
        assert not isinstance(node.get("additionalProperties"), bool), path
    if node.get("type") == "array":
        assert "items" in node, path
    for rule in node.get("x-kubernetes-validations", []):
        assert rule["rule"], path
        assert rule["message"], path
    if "default" in node and "enum" in node:
        assert node["default"] in node["enum"], path


@pytest.mark.parametrize("crd", build_crds(), ids=lambda crd: crd["spec"]["names"]["kind"])
def test_only_pod_overrides_preserve_unknown_fields(crd: dict[str, Any]) -> None:
    free_form = [path for path, node in _walk(_root(crd)) if node.get("x-kubernetes-preserve-unknown-fields")]
    assert all(path.endswith(".podOverrides") for path in free_form), free_form


@pytest.mark.parametrize("crd", build_crds(), ids=lambda crd: crd["spec"]["names"]["kind"])
def test_every_field_is_described_for_kubectl_explain(crd: dict[str, Any]) -> None:
    undocumented = [
        f"{path}.{name}"
        for path, node in _walk(_root(crd))
        for name, sub in node.get("properties", {}).items()
        if not sub.get("description") and name != "metadata"
    ]
    assert undocumented == []


@pytest.mark.parametrize("crd", build_crds(), ids=lambda crd: crd["spec"]["names"]["kind"])
def test_spec_is_bounded_for_cel_cost_estimation(crd: dict[str, Any]) -> None:
    # CEL rules compare and iterate over spec values; the apiserver rejects rules whose worst-case cost is
    # unbounded, so every list, map and free string under spec has a maximum size.
    unbounded = []
    for path, node in _walk(_root(crd)["properties"]["spec"], ".spec"):
        if node.get("type") == "array" and "maxItems" not in node:
            unbounded.append(path)
        if isinstance(node.get("additionalProperties"), dict) and "maxProperties" not in node:
            unbounded.append(path)
        if (node.get("type") == "string" or node.get("x-kubernetes-int-or-string")) and not (
            "maxLength" in node or "enum" in node
        ):
            unbounded.append(path)
    assert unbounded == []


@pytest.mark.parametrize("crd", build_crds(), ids=lambda crd: crd["spec"]["names"]["kind"])
def test_map_lists_are_keyed_by_required_fields(crd: dict[str, Any]) -> None:
    for path, node in _walk(_root(crd)):
        if node.get("x-kubernetes-list-type") == "map":
            keys = node["x-kubernetes-list-map-keys"]
            assert set(keys) <= set(node["items"].get("required", [])), path


@pytest.mark.parametrize("crd", build_crds(), ids=lambda crd: crd["spec"]["names"]["kind"])
def test_printer_columns_and_selectable_fields_exist(crd: dict[str, Any]) -> None:
    [version] = crd["spec"]["versions"]
    schema = _root(crd)
    paths = [col["jsonPath"] for col in version["additionalPrinterColumns"]]
    paths += [field["jsonPath"] for field in version["selectableFields"]]
    for json_path in paths:
        if json_path.startswith(".metadata."):
            continue
        _at(schema, json_path)  # KeyError when the column points nowhere


def test_names_and_subresources() -> None:
    cluster, step = build_cluster_crd(), build_step_crd()
    assert cluster["metadata"]["name"] == "emrclusters.kemr.io"
    assert cluster["spec"]["names"]["shortNames"] == ["emrc"]
    assert step["spec"]["names"]["shortNames"] == ["emrs"]
    for crd in (cluster, step):
        assert crd["spec"]["names"]["categories"] == ["kemr"]
        [version] = crd["spec"]["versions"]
        assert version["name"] == "v1alpha1"
        assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in cluster["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns[:4] == ["State", "Reason", "Ready", "Running"]
    assert columns[-1] == "Age"
    columns = [c["name"] for c in step["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns[:3] == ["Cluster", "State", "Attempts"]
    assert columns[-1] == "Age"


def _rules(crd: dict[str, Any]) -> dict[str, list[str]]:
    return {
        path: [rule["rule"] for rule in node["x-kubernetes-validations"]]
        for path, node in _walk(_root(crd))
        if "x-kubernetes-validations" in node
    }


def test_cluster_cel_rules_are_where_they_belong() -> None:
    rules = _rules(build_cluster_crd())
    assert "self == oldSelf" in rules[".spec.release"]
    assert "self == oldSelf" in rules[".spec.applications"]
    assert "self == oldSelf" in rules[".spec.master.storage"]
    assert "self == oldSelf" in rules[".spec.coreGroups[].storage"]
    assert "self == oldSelf" in rules[".spec.steps[]"]
    assert "self || !oldSelf" in rules[".spec.terminate"]
    assert "self.minReplicas <= self.maxReplicas" in rules[".spec.taskGroups[]"]
    spec_rules = " ".join(rules[".spec"])
    assert "stepConcurrency <= 1" in spec_rules
    assert "self.terminationProtected" in spec_rules
    assert "t.name != c.name" in spec_rules
    assert any("exists_one" in rule for rule in rules[".spec.steps[]"])
    assert any("metadata.name" in rule for rule in rules[""])


def test_step_cel_rules_are_where_they_belong() -> None:
    rules = _rules(build_step_crd())
    spec_rules = rules[".spec"]
    assert any("exists_one" in rule for rule in spec_rules)
    for field in (
        "clusterRef",
        "actionOnFailure",
        "spark",
        "sparkSql",
        "command",
        "retry",
        "activeDeadlineSeconds",
    ):
        assert any(f"self.{field} == oldSelf.{field}" in rule for rule in spec_rules), field
    assert not any("self.cancel == oldSelf.cancel" in rule for rule in spec_rules)
    assert "self.cancel || !oldSelf.cancel" in spec_rules
    assert rules[".spec.sparkSql"] == ["has(self.query) != has(self.file)"]


def test_transition_rules_say_what_to_do() -> None:
    for crd in build_crds():
        for path, node in _walk(_root(crd)):
            for rule in node.get("x-kubernetes-validations", []):
                if "oldSelf" in rule["rule"]:
                    assert ":" in rule["message"], f"{path}: {rule['message']}"


def _apply_defaults(value: Any, schema: Schema) -> Any:
    """Structural defaulting as the apiserver does it: missing properties get their default, recursively."""
    if isinstance(value, dict) and "properties" in schema:
        for name, sub in schema["properties"].items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = _apply_defaults(value[name], sub)
    elif isinstance(value, list) and "items" in schema:
        return [_apply_defaults(item, schema["items"]) for item in value]
    return value


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


MINIMAL_CLUSTER = {
    "coreGroups": [{"name": "core"}],
    "taskGroups": [{"name": "spot", "maxReplicas": 2, "spotFallback": {}}],
    "s3": {"credentials": {"secretRef": {"name": "creds"}}},
    "steps": [{"name": "one", "spark": {"mainApplicationFile": "s3a://b/app.py"}}],
}
MINIMAL_STEP = {"clusterRef": {"name": "c"}, "sparkSql": {"query": "SELECT 1"}}


@pytest.mark.parametrize(
    ("crd", "model", "spec"),
    [(build_cluster_crd(), EMRClusterSpec, MINIMAL_CLUSTER), (build_step_crd(), EMRStepSpec, MINIMAL_STEP)],
    ids=["EMRCluster", "EMRStep"],
)
def test_apiserver_defaults_agree_with_the_models(
    crd: dict[str, Any], model: Any, spec: dict[str, Any]
) -> None:
    # What `kubectl get -o yaml` shows after the apiserver defaulted a minimal object is what the operator
    # would assume for the same object: the CRD's defaults and the models' defaults can't drift apart.
    defaulted = _apply_defaults(copy.deepcopy(spec), _root(crd)["properties"]["spec"])
    assert _without_empty(defaulted) == _without_empty(model.model_validate(spec).to_dict())


def test_termination_protection_policy() -> None:
    policy, binding = build_termination_protection_policy()
    assert policy["kind"] == "ValidatingAdmissionPolicy"
    assert policy["apiVersion"] == "admissionregistration.k8s.io/v1"
    [rule] = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["operations"] == ["DELETE"]
    assert rule["resources"] == ["emrclusters"]
    [validation] = policy["spec"]["validations"]
    assert "oldObject.spec.terminationProtected" in validation["expression"]
    assert "terminationProtected to false" in validation["message"]
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}


def test_committed_crds_are_up_to_date() -> None:
    expected = render_files()
    committed = {path.name: path.read_text() for path in CRDS_DIR.glob("*.yaml")}
    stale = sorted(
        name for name in expected.keys() | committed.keys() if expected.get(name) != committed.get(name)
    )
    assert stale == [], f"crds/ is stale ({', '.join(stale)}): run `make crds` (uv run kemr crds --out crds/)"


def test_all_manifests_parse_as_one_stream() -> None:
    kinds = [doc["kind"] for doc in yaml.safe_load_all(render_all())]
    assert kinds == [
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
