"""The plain-YAML install and the namespaced chart are accepted by the real API server (server-side dry run)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubetune_devcluster import deploy
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST

pytestmark = pytest.mark.cluster


def plural(kind: str) -> str:
    return {"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles",
            "RoleBinding": "rolebindings"}.get(kind, kind.lower() + "s")


def dry_run_create(kube: KubeREST, doc: dict[str, Any], namespace: str | None) -> None:
    """Server-side apply with dryRun: validated by the API server whether or not the object exists already."""
    path = KubeREST.path_for(doc["kind"], namespace, api_version=doc["apiVersion"], plural=plural(doc["kind"]))
    kube.request("PATCH", f"{path}/{doc['metadata']['name']}", doc, content_type="application/apply-patch+yaml",
                 query={"dryRun": "All", "fieldManager": "kubetune-tests", "force": "true"})


def test_kubectl_apply_install_is_valid(kube: KubeREST, crds: list[dict[str, Any]]) -> None:
    docs = [d for d in yaml.safe_load_all((deploy.REPO / "deploy" / "kubetune.yaml").read_text()) if d]
    kube.apply(docs[0])  # the namespace, for real: the rest is dry-run inside it
    for doc in docs[1:]:
        if doc["kind"] == "CustomResourceDefinition":
            continue  # installed for real by the crds fixture, from the same generator
        dry_run_create(kube, doc, deploy.NAMESPACE)


def test_namespaced_chart_is_valid(kube: KubeREST, namespace: str) -> None:
    docs = [d for d in yaml.safe_load_all(deploy.helm_template({"watchNamespaces": [namespace]}, namespace=namespace,
                                                               include_crds=False)) if d]
    for doc in docs:
        dry_run_create(kube, doc, doc["metadata"].get("namespace", namespace))


def release_values(name: str, namespace: str) -> dict[str, Any]:
    return {
        "default": {},
        "namespaced": {"watchNamespaces": [namespace]},
        # Every toggle whose kinds this cluster serves (ServiceMonitor and PrometheusRule need the Prometheus
        # Operator's CRDs, which are not installed here; tests/unit/deploy checks them).
        "everything": {"replicas": 2, "postgresql": {"enabled": True},
                       "metrics": {"grafanaDashboard": {"enabled": True}},
                       "dashboard": {"enabled": True, "ingress": {"enabled": True}}},
    }[name]


@pytest.mark.parametrize("name", ["default", "namespaced", "everything"])
def test_helm_template_passes_kubectl_server_dry_run(cluster: LocalCluster, crds: list[dict[str, Any]],
                                                     namespace: str, name: str) -> None:
    """`helm template | kubectl apply --dry-run=server -f -`, hooks included, released into the test's namespace."""
    rendered = deploy.helm_template(release_values(name, namespace), release=f"kt-{name}", namespace=namespace,
                                    include_crds=False, hooks=True)
    done = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=rendered, check=False)
    assert done.returncode == 0, done.stderr
    applied = [line for line in done.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(applied) == len([d for d in yaml.safe_load_all(rendered) if d])
