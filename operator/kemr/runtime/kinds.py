"""Where each kind the operator writes lives in the API (no discovery round-trips at start-up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    def collection(self, namespace: str | None = None) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def path(self, namespace: str | None, name: str) -> str:
        return f"{self.collection(namespace)}/{name}"


KINDS: dict[tuple[str, str], Kind] = {
    (k.api_version, k.kind): k
    for k in (
        Kind("v1", "ConfigMap", "configmaps"),
        Kind("v1", "Secret", "secrets"),
        Kind("v1", "Service", "services"),
        Kind("v1", "ServiceAccount", "serviceaccounts"),
        Kind("v1", "Pod", "pods"),
        Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
        Kind("v1", "Event", "events"),
        Kind("apps/v1", "StatefulSet", "statefulsets"),
        Kind("apps/v1", "Deployment", "deployments"),
        Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
        Kind("rbac.authorization.k8s.io/v1", "Role", "roles"),
        Kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
        Kind("coordination.k8s.io/v1", "Lease", "leases"),
        Kind("kemr.io/v1alpha1", "EMRCluster", "emrclusters"),
        Kind("kemr.io/v1alpha1", "EMRStep", "emrsteps"),
        Kind("kemr.io/v1alpha1", "DataCatalog", "datacatalogs"),
        Kind("kemr.io/v1alpha1", "EMRNotebook", "emrnotebooks"),
    )
}


def kind_of(obj: dict[str, Any]) -> Kind:
    try:
        return KINDS[(obj["apiVersion"], obj["kind"])]
    except KeyError:
        raise ValueError(f"kemr does not manage {obj.get('apiVersion')}/{obj.get('kind')} objects") from None


def kind_named(kind: str) -> Kind:
    """By kind name alone (they are unique among the kinds kemr manages)."""
    for k in KINDS.values():
        if k.kind == kind:
            return k
    raise ValueError(f"kemr does not manage {kind} objects")
