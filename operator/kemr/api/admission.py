"""Admission: a ValidatingAdmissionPolicy refusing to delete a termination-protected EMRCluster, and the
ValidatingWebhookConfiguration of the operator's webhook.

CRD validation rules don't run on DELETE, and a finalizer would make `kubectl delete` hang while the operator
waits; an admission policy refuses at once with a clear message, with or without the operator running.
"""

from __future__ import annotations

from typing import Any

from kemr.api import constants as c

TERMINATION_PROTECTION_POLICY = "kemr-termination-protection"

# Deleting the namespace still deletes its clusters: a protected cluster must not leave a namespace stuck in
# Terminating (the namespace controller's deletes arrive while the namespace has a deletionTimestamp).
_ALLOW_DELETE = (
    "!has(oldObject.spec.terminationProtected) || !oldObject.spec.terminationProtected"
    " || (namespaceObject != null && has(namespaceObject.metadata.deletionTimestamp))"
)


def build_termination_protection_policy() -> list[dict[str, Any]]:
    """The policy and its binding (admissionregistration.k8s.io/v1)."""
    labels = {c.LABEL_NAME: "kemr", "app.kubernetes.io/part-of": "kemr"}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": TERMINATION_PROTECTION_POLICY, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [c.GROUP],
                        "apiVersions": ["*"],
                        "operations": ["DELETE"],
                        "resources": [c.CLUSTER_PLURAL],
                    }
                ]
            },
            "validations": [
                {
                    "expression": _ALLOW_DELETE,
                    "messageExpression": (
                        f"'{c.CLUSTER_KIND} ' + oldObject.metadata.name + ' is termination-protected:"
                        " set spec.terminationProtected to false first, then delete it'"
                    ),
                    "message": (
                        f"the {c.CLUSTER_KIND} is termination-protected:"
                        " set spec.terminationProtected to false first, then delete it"
                    ),
                    "reason": "Forbidden",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": TERMINATION_PROTECTION_POLICY, "labels": labels},
        "spec": {"policyName": TERMINATION_PROTECTION_POLICY, "validationActions": ["Deny"]},
    }
    return [policy, binding]


WEBHOOK_PATHS = {
    c.CLUSTER_PLURAL: f"/validate/{c.CLUSTER_PLURAL}",
    c.STEP_PLURAL: f"/validate/{c.STEP_PLURAL}",
    c.CATALOG_PLURAL: f"/validate/{c.CATALOG_PLURAL}",
}
# Deletes reviewed too: a DataCatalog that EMRClusters still use is refused, naming them.
GUARDED_DELETES = frozenset({c.CATALOG_PLURAL})
# Only creates and spec changes are reviewed: labels, finalizers and deletion of a stored object never wait
# for (or depend on) the operator.
SPEC_CHANGED = "request.operation == 'CREATE' || !has(oldObject.spec) || object.spec != oldObject.spec"
SPEC_CHANGED_OR_DELETE = "request.operation == 'DELETE' || " + SPEC_CHANGED


def build_validating_webhook(
    name: str, client_config: dict[str, Any], namespaces: list[str] | None = None
) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration calling kemr's webhook (controllers/webhook.py) for EMRClusters,
    EMRSteps and DataCatalogs (their deletes too: GUARDED_DELETES). `client_config` is the webhooks'
    clientConfig without `path` (a `service` or a `url` base); `namespaces`: only these (the operator's
    watched namespaces), else every namespace.

    failurePolicy Ignore: while no operator answers, applies succeed and the reconcilers report the same
    errors in status; the chart's template (charts/kemr/templates/webhook.yaml) renders the same object.
    """
    webhooks = []
    for plural, path in WEBHOOK_PATHS.items():
        guarded = plural in GUARDED_DELETES
        if "url" in client_config:
            config = {**client_config, "url": client_config["url"].rstrip("/") + path}
        else:
            config = {**client_config, "service": {**client_config["service"], "path": path}}
        webhook: dict[str, Any] = {
            "name": f"{plural}.{c.GROUP}",
            "clientConfig": config,
            "rules": [
                {
                    "apiGroups": [c.GROUP],
                    "apiVersions": ["*"],
                    "operations": ["CREATE", "UPDATE", *(["DELETE"] if guarded else [])],
                    "resources": [plural],
                    "scope": "Namespaced",
                }
            ],
            "matchConditions": [
                {"name": "spec-changed", "expression": SPEC_CHANGED_OR_DELETE if guarded else SPEC_CHANGED}
            ],
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 5,
        }
        if namespaces:
            webhook["namespaceSelector"] = {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(namespaces)}
                ]
            }
        webhooks.append(webhook)
    labels = {c.LABEL_NAME: "kemr", "app.kubernetes.io/part-of": "kemr"}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": labels},
        "webhooks": webhooks,
    }
