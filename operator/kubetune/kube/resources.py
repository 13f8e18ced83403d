"""Where kinds live in the API and how a request addresses them: ``Resource("batch/v1", "jobs").path(ns, name)``.

One scheme for the operator's asynchronous client and the test ground's synchronous one. ``KINDS`` maps the built-in
kinds kubetune and its tests touch to their resources; custom resources are built with ``Resource`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API: ``Resource("batch/v1", "jobs")``."""

    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The collection (no ``name``) or the object; without a namespace, a namespaced kind's list across all."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


PODS = Resource("v1", "pods")
SECRETS = Resource("v1", "secrets")
CONFIGMAPS = Resource("v1", "configmaps")
PVCS = Resource("v1", "persistentvolumeclaims")
EVENTS = Resource("v1", "events")
JOBS = Resource("batch/v1", "jobs")
DEPLOYMENTS = Resource("apps/v1", "deployments")
LEASES = Resource("coordination.k8s.io/v1", "leases")

KINDS: dict[str, Resource] = {
    "Pod": PODS, "Secret": SECRETS, "ConfigMap": CONFIGMAPS, "PersistentVolumeClaim": PVCS, "Event": EVENTS,
    "Job": JOBS, "Deployment": DEPLOYMENTS,
    "Service": Resource("v1", "services"),
    "ServiceAccount": Resource("v1", "serviceaccounts"),
    "Endpoints": Resource("v1", "endpoints"),
    "ResourceQuota": Resource("v1", "resourcequotas"),
    "Namespace": Resource("v1", "namespaces", namespaced=False),
    "Node": Resource("v1", "nodes", namespaced=False),
    "PersistentVolume": Resource("v1", "persistentvolumes", namespaced=False),
    "ReplicaSet": Resource("apps/v1", "replicasets"),
    "StatefulSet": Resource("apps/v1", "statefulsets"),
    "Role": Resource("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": Resource("rbac.authorization.k8s.io/v1", "rolebindings"),
    "ClusterRole": Resource("rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False),
    "ClusterRoleBinding": Resource("rbac.authorization.k8s.io/v1", "clusterrolebindings", namespaced=False),
    "StorageClass": Resource("storage.k8s.io/v1", "storageclasses", namespaced=False),
    "Lease": LEASES,
    "PriorityClass": Resource("scheduling.k8s.io/v1", "priorityclasses", namespaced=False),
    "CustomResourceDefinition": Resource("apiextensions.k8s.io/v1", "customresourcedefinitions", namespaced=False),
    "NetworkPolicy": Resource("networking.k8s.io/v1", "networkpolicies"),
    "Ingress": Resource("networking.k8s.io/v1", "ingresses"),
    "PodDisruptionBudget": Resource("policy/v1", "poddisruptionbudgets"),
}


def resource_for(kind: str, api_version: str | None = None, plural: str | None = None) -> Resource:
    """The resource of a built-in ``kind``; any other kind needs its ``api_version`` and ``plural``."""
    if kind in KINDS:
        return KINDS[kind]
    if not (api_version and plural):
        raise ValueError(f"unknown kind {kind}: pass api_version and plural")
    return Resource(api_version, plural)


__all__ = ["CONFIGMAPS", "DEPLOYMENTS", "EVENTS", "JOBS", "KINDS", "LEASES", "PATCH_TYPES", "PODS", "PVCS", "SECRETS",
           "Json", "Resource", "resource_for"]
