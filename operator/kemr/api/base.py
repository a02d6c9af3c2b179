"""Base model, shared field types and the helpers that attach CEL rules to the models.

Every model's docstring and every field's attribute docstring become the CRD's `description`s: that is what
users read with `kubectl explain`, so they are written for users.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, WithJsonSchema
from pydantic.alias_generators import to_camel

# resource.Quantity's pattern (as kubebuilder emits it) narrowed to positive values: no sign, and a non-zero
# digit in the number. A pattern rather than a CEL rule: CEL's cost estimator sees int-or-string values as
# unbounded strings, so any rule on them (quantity(), matches()) blows the CRD's cost budget.
_QUANTITY_SUFFIX = r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?"
POSITIVE_QUANTITY_PATTERN = (
    r"^\+?([0-9]*[1-9][0-9]*(\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)" + _QUANTITY_SUFFIX + "$"
)


class KemrModel(BaseModel):
    """Base of all kemr API models: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        # The apiserver prunes unknown fields; ignoring them here keeps an older operator working
        # against a newer CRD.
        extra="ignore",
        validate_default=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """The object as the Kubernetes API wants it: camelCase keys, JSON types, no unset optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def cel(
    rule: str,
    message: str,
    *,
    field_path: str | None = None,
    reason: str | None = None,
    message_expression: str | None = None,
    optional_old_self: bool | None = None,
) -> dict[str, Any]:
    """One `x-kubernetes-validations` entry.

    `message` should name the field and say how to fix it. `field_path` (a JSON path relative to the node
    the rule is attached to, e.g. `.minReplicas`) makes the apiserver report the error on that field;
    `reason` is one of FieldValueInvalid (default), FieldValueForbidden, FieldValueRequired,
    FieldValueDuplicate.
    """
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if message_expression is not None:
        entry["messageExpression"] = message_expression
    if field_path is not None:
        entry["fieldPath"] = field_path
    if reason is not None:
        entry["reason"] = reason
    if optional_old_self is not None:
        entry["optionalOldSelf"] = optional_old_self
    return entry


def validations(*rules: dict[str, Any]) -> dict[str, Any]:
    """`json_schema_extra` for a model or a field carrying these CEL rules."""
    return {"x-kubernetes-validations": list(rules)}


def cel_rules(*rules: dict[str, Any]) -> ConfigDict:
    """`model_config` of a model carrying these CEL rules (merged with the base model's config)."""
    return ConfigDict(json_schema_extra=validations(*rules))


def immutable(field: str, fix: str) -> dict[str, Any]:
    """Transition rule: the field (the node the rule is attached to) never changes once set."""
    return cel("self == oldSelf", f"{field} is immutable: {fix}", reason="FieldValueForbidden")


def list_map(*keys: str) -> dict[str, Any]:
    """`json_schema_extra` for a list of objects keyed by `keys` (merged by key by server-side apply)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


LIST_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}
PRESERVE_UNKNOWN_FIELDS: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _quantity_to_str(value: object) -> object:
    # int-or-string on the wire: `cpu: 2` arrives as an int, `memory: 4Gi` as a string.
    if isinstance(value, bool):
        return value  # let pydantic reject it
    if isinstance(value, int | float):
        return str(value)
    return value


Quantity = Annotated[
    str,
    BeforeValidator(_quantity_to_str),
    StringConstraints(pattern=POSITIVE_QUANTITY_PATTERN, max_length=64),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
            "pattern": POSITIVE_QUANTITY_PATTERN,
            "maxLength": 64,
            "minimum": 1,
        }
    ),
]
"""A positive Kubernetes quantity such as `2`, `500m`, `4Gi`; always a string in Python."""
