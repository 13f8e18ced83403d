"""One resource-path scheme for the operator's client and the test ground's: where each kind lives in the API."""

from __future__ import annotations

import pytest

from kubetune.kube.resources import JOBS, PODS, Resource, resource_for
from kubetune_devcluster.kubeapi import KubeREST


@pytest.mark.parametrize(("kind", "namespace", "name", "subresource", "expected"), [
    ("Pod", "ml", "trainer-0", "status", "/api/v1/namespaces/ml/pods/trainer-0/status"),
    ("Pod", None, None, None, "/api/v1/pods"),  # across namespaces
    ("Job", "ml", None, None, "/apis/batch/v1/namespaces/ml/jobs"),
    ("Lease", "kube-node-lease", "process-node", None,
     "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/process-node"),
    # cluster-scoped kinds ignore a namespace
    ("Node", "ml", "process-node", None, "/api/v1/nodes/process-node"),
    ("CustomResourceDefinition", "ml", "trainingjobs.kubetune.dev", None,
     "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/trainingjobs.kubetune.dev"),
    ("PriorityClass", None, "high", None, "/apis/scheduling.k8s.io/v1/priorityclasses/high"),
])
def test_builtin_kinds(kind: str, namespace: str | None, name: str | None, subresource: str | None,
                       expected: str) -> None:
    assert resource_for(kind).path(namespace, name, subresource) == expected
    assert KubeREST.path_for(kind, namespace, name, subresource=subresource) == expected


def test_the_operators_constants_are_the_same_resources() -> None:
    assert resource_for("Pod") is PODS and resource_for("Job") is JOBS


def test_custom_kinds_need_their_group_version_and_plural() -> None:
    assert KubeREST.path_for("TrainingJob", "ml", "bot", api_version="kubetune.dev/v1alpha1",
                             plural="trainingjobs") == "/apis/kubetune.dev/v1alpha1/namespaces/ml/trainingjobs/bot"
    assert KubeREST.path("kubetune.dev/v1alpha1", "trainingjobs", "ml") == Resource(
        "kubetune.dev/v1alpha1", "trainingjobs").path("ml")
    with pytest.raises(ValueError, match="unknown kind TrainingJob: pass api_version and plural"):
        resource_for("TrainingJob")
