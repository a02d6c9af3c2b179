"""CustomResourceDefinitions generated from the pydantic models.

The models' JSON schemas are turned into Kubernetes *structural* schemas: every `$ref` inlined, `Optional`
reduced to the plain type (an absent field is how Kubernetes says "unset"; a null sent by a user is pruned),
no titles, defaults kept (the apiserver applies them), CEL rules (`x-kubernetes-validations`) kept on the node
they were declared on.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from kemr.api import constants as c
from kemr.api.base import cel
from kemr.api.catalog import DataCatalogSpec, DataCatalogStatus
from kemr.api.cluster import EMRClusterSpec, EMRClusterStatus
from kemr.api.notebook import EMRNotebookSpec, EMRNotebookStatus
from kemr.api.step import EMRStepSpec, EMRStepStatus

_VALIDATIONS = "x-kubernetes-validations"
# JSON Schema keywords the Kubernetes OpenAPI v3 subset doesn't accept, or that only add noise.
_DROPPED_KEYS = frozenset({"title", "examples", "$defs", "$schema"})


class _CrdJsonSchema(GenerateJsonSchema):
    """Emits the defaults of nested models built by a default_factory, so the apiserver fills them in."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            value = factory()  # type: ignore[call-arg]
            if isinstance(value, BaseModel):
                # Only what differs from the nested model's own defaults: the nested schema defaults the rest.
                return value.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
            return NoDefault
        return super().get_default_value(schema)


class SchemaError(ValueError):
    """A model produced a JSON schema that can't be made structural."""


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of one model."""
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_CrdJsonSchema)
    defs = raw.get("$defs", {})
    return _structural(raw, defs, path=model.__name__)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    # A field's own keys (its description, its default, its rules) win over the referenced model's; CEL rules
    # of both apply.
    merged = {**base, **override}
    if _VALIDATIONS in base and _VALIDATIONS in override:
        merged[_VALIDATIONS] = [*base[_VALIDATIONS], *override[_VALIDATIONS]]
    return merged


def clean_description(text: str) -> str:
    """A docstring as one line per paragraph: `kubectl explain` wraps text itself."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


# Order of keys in the emitted schema, for readable diffs; other keys keep their order after these.
_KEY_ORDER = ("description", "type", "format", "default", "enum")
_RULE_KEY_ORDER = ("rule", "message", "messageExpression", "fieldPath", "reason", "optionalOldSelf")


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def _resolve(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    """Inline the node's own $ref, allOf and Optional anyOf (not its children's), keeping the wrapper's
    keys."""
    node = dict(node)
    while True:
        if "$ref" in node:
            name = node.pop("$ref").rsplit("/", 1)[-1]
            node = _merge(defs[name], node)
        elif "allOf" in node:
            parts = node.pop("allOf")
            if len(parts) != 1:
                raise SchemaError(f"{path}: allOf with {len(parts)} members is not supported")
            node = _merge(parts[0], node)
        elif "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
            options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
            if len(options) != 1:
                raise SchemaError(f"{path}: unions other than Optional[X] are not structural: {options}")
            node = _merge(options[0], node)
        else:
            return node


def _structural(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    node = _resolve(node, defs, path)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("uniqueItems"):
        raise SchemaError(f"{path}: uniqueItems is not allowed in CRDs; use x-kubernetes-list-type: set")

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "description":
            out[key] = clean_description(value)
        elif key == "default":
            if value is None:
                continue
            out[key] = _strip_none(copy.deepcopy(value))
        elif key == "properties":
            out[key] = {name: _structural(sub, defs, f"{path}.{name}") for name, sub in value.items()}
        elif key == "items":
            out[key] = _structural(value, defs, f"{path}[]")
        elif key == _VALIDATIONS:
            out[key] = [_ordered(rule, _RULE_KEY_ORDER) for rule in value]
        elif key == "additionalProperties":
            if value is True or value is False:
                continue  # free-form objects are marked x-kubernetes-preserve-unknown-fields explicitly
            out[key] = _structural(value, defs, f"{path}{{}}")
        else:
            out[key] = copy.deepcopy(value)

    if out.get("x-kubernetes-preserve-unknown-fields"):
        out["type"] = "object"
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        raise SchemaError(f"{path}: no type")
    if (
        out.get("type") == "object"
        and not out.get("properties")
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        raise SchemaError(f"{path}: an object without properties must preserve unknown fields")
    if not out.get("required"):
        out.pop("required", None)
    return _ordered(out, _KEY_ORDER)


def _ordered(mapping: dict[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
    rank = {key: i for i, key in enumerate(first)}
    return {k: mapping[k] for k in sorted(mapping, key=lambda k: rank.get(k, len(first)))}


def _root_schema(
    kind: str, spec: type[BaseModel], status: type[BaseModel], rules: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "object",
        "description": clean_description(spec.__doc__ or kind),
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion defines the versioned schema of this representation of an object.",
            },
            "kind": {
                "type": "string",
                "description": "Kind is the REST resource this object represents.",
            },
            "metadata": {"type": "object"},
            "spec": model_schema(spec),
            "status": model_schema(status),
        },
        _VALIDATIONS: rules,
    }


def _column(name: str, type_: str, json_path: str, description: str, priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": type_, "jsonPath": json_path, "description": description}
    if priority:
        column["priority"] = priority
    return column


_AGE = _column("Age", "date", ".metadata.creationTimestamp", "Time since the object was created")


def _crd(
    *,
    kind: str,
    plural: str,
    singular: str,
    short_names: tuple[str, ...],
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
    selectable_fields: list[str],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{c.GROUP}",
            "labels": {c.LABEL_NAME: "kemr", "app.kubernetes.io/part-of": "kemr"},
        },
        "spec": {
            "group": c.GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": list(short_names),
                "categories": [c.CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": c.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "selectableFields": [{"jsonPath": p} for p in selectable_fields],
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _name_rule(kind: str, max_length: int, pattern: str, shape: str, purpose: str) -> dict[str, Any]:
    return cel(
        f"size(self.metadata.name) <= {max_length} && self.metadata.name.matches('{pattern}')",
        f"metadata.name of {'an' if kind[0] in 'AEIOU' else 'a'} {kind} must be at most {max_length}"
        f" characters of {shape}: {purpose}",
    )


def build_cluster_crd() -> dict[str, Any]:
    """The EMRCluster CustomResourceDefinition."""
    rules = [
        _name_rule(
            c.CLUSTER_KIND,
            c.MAX_CLUSTER_NAME_LENGTH,
            c.DNS_1035_LABEL_PATTERN,
            "lowercase letters, digits and '-', starting with a letter",
            "it prefixes the names of the cluster's Services and pods",
        )
    ]
    return _crd(
        kind=c.CLUSTER_KIND,
        plural=c.CLUSTER_PLURAL,
        singular=c.CLUSTER_SINGULAR,
        short_names=c.CLUSTER_SHORT_NAMES,
        schema=_root_schema(c.CLUSTER_KIND, EMRClusterSpec, EMRClusterStatus, rules),
        columns=[
            _column("State", "string", ".status.state", "EMR cluster state"),
            _column("Reason", "string", ".status.stateChangeReason.code", "Why the cluster is in its state"),
            _column("Ready", "string", ".status.readyGroups", "Node groups with all their pods ready"),
            _column("Running", "integer", ".status.steps.running", "Steps running now"),
            _column("Release", "string", ".spec.release", "Release label", priority=1),
            _AGE,
        ],
        selectable_fields=[".status.state"],
    )


def build_step_crd() -> dict[str, Any]:
    """The EMRStep CustomResourceDefinition."""
    rules = [
        _name_rule(
            c.STEP_KIND,
            c.MAX_STEP_NAME_LENGTH,
            c.DNS_1123_LABEL_PATTERN,
            "lowercase letters, digits and '-'",
            "it is a label value and names the step's driver pods",
        )
    ]
    return _crd(
        kind=c.STEP_KIND,
        plural=c.STEP_PLURAL,
        singular=c.STEP_SINGULAR,
        short_names=c.STEP_SHORT_NAMES,
        schema=_root_schema(c.STEP_KIND, EMRStepSpec, EMRStepStatus, rules),
        columns=[
            _column("Cluster", "string", ".spec.clusterRef.name", "The EMRCluster running the step"),
            _column("State", "string", ".status.state", "EMR step state"),
            _column("Attempts", "integer", ".status.attemptCount", "Attempts so far"),
            _column("Reason", "string", ".status.stateChangeReason.code", "Why the step is in its state", 1),
            _AGE,
        ],
        selectable_fields=[".spec.clusterRef.name", ".status.state"],
    )


def build_catalog_crd() -> dict[str, Any]:
    """The DataCatalog CustomResourceDefinition."""
    rules = [
        _name_rule(
            c.CATALOG_KIND,
            c.MAX_CATALOG_NAME_LENGTH,
            c.DNS_1035_LABEL_PATTERN,
            "lowercase letters, digits and '-', starting with a letter",
            "it prefixes the names of the catalog's Services and pods",
        )
    ]
    return _crd(
        kind=c.CATALOG_KIND,
        plural=c.CATALOG_PLURAL,
        singular=c.CATALOG_SINGULAR,
        short_names=c.CATALOG_SHORT_NAMES,
        schema=_root_schema(c.CATALOG_KIND, DataCatalogSpec, DataCatalogStatus, rules),
        columns=[
            _column("State", "string", ".status.state", "ACTIVE when the metastore answers"),
            _column("Endpoint", "string", ".status.endpoint", "The metastore's thrift URI"),
            _column("Database", "string", ".status.database", "The database's JDBC URL", priority=1),
            _AGE,
        ],
        selectable_fields=[".status.state"],
    )


def build_notebook_crd() -> dict[str, Any]:
    """The EMRNotebook CustomResourceDefinition."""
    rules = [
        _name_rule(
            c.NOTEBOOK_KIND,
            c.MAX_NOTEBOOK_NAME_LENGTH,
            c.DNS_1123_LABEL_PATTERN,
            "lowercase letters, digits and '-'",
            "it is a label value and names the notebook's Deployment <name>-notebook",
        )
    ]
    return _crd(
        kind=c.NOTEBOOK_KIND,
        plural=c.NOTEBOOK_PLURAL,
        singular=c.NOTEBOOK_SINGULAR,
        short_names=c.NOTEBOOK_SHORT_NAMES,
        schema=_root_schema(c.NOTEBOOK_KIND, EMRNotebookSpec, EMRNotebookStatus, rules),
        columns=[
            _column("Cluster", "string", ".spec.clusterRef.name", "The EMRCluster it is attached to"),
            _column("State", "string", ".status.state", "EMR notebook state"),
            _column("Kernels", "integer", ".status.kernels.total", "Kernels running (token auth only)"),
            _column("Reason", "string", ".status.stateChangeReason.code", "Why it is in its state", 1),
            _AGE,
        ],
        selectable_fields=[".spec.clusterRef.name", ".status.state"],
    )


def build_crds() -> list[dict[str, Any]]:
    """All of kemr's CustomResourceDefinitions."""
    return [build_cluster_crd(), build_step_crd(), build_catalog_crd(), build_notebook_crd()]
