"""A ValidatingAdmissionPolicy that refuses to delete a termination-protected EMRCluster.

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
