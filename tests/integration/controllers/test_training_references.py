"""The operator waits for what a TrainingJob names (missing_references, against the real API server): here, the
Secret holding the Hugging Face token of an hf:// base model."""

from __future__ import annotations

import pytest

from kubetune.api import TrainingJob, parse_resource
from kubetune.controllers.training_children import missing_references
from kubetune.kube import KubeClient
from kubetune_devcluster.kubeapi import KubeREST

pytestmark = [pytest.mark.cluster]


def hub_trainingjob(namespace: str) -> TrainingJob:
    tj = parse_resource({"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob",
                         "metadata": {"name": "tj", "namespace": namespace}, "spec": {
        "baseModel": {"name": "org/private", "source": {"uri": "hf://org/private@main",
                                                        "tokenSecretRef": {"name": "hf-token", "key": "token"}}},
        "dataset": {"source": {"inline": [{"text": "x"}]}, "format": "text"},
        "resources": {"gpus": 0}, "output": {"modelName": "m", "storage": {"pvc": {"claimName": "out"}}}}})
    assert isinstance(tj, TrainingJob)
    return tj


async def test_the_hub_token_secret_is_waited_for(client: KubeClient, kube: KubeREST, namespace: str) -> None:
    tj = hub_trainingjob(namespace)

    missing = {m.reason: m.message for m in await missing_references(client, tj)}
    assert missing["SecretNotFound"] == f"spec.baseModel.source.tokenSecretRef: Secret {namespace}/hf-token does " \
                                        "not exist"

    kube.create(KubeREST.path("v1", "secrets", namespace), {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token"}, "stringData": {"token": "hf_x"}})
    assert "SecretNotFound" not in {m.reason for m in await missing_references(client, tj)}
