"""The operator waits for what a TrainingJob names (missing_references, against the real API server): here, the
Secret holding the Hugging Face token of an hf:// base model; and a burst of jobs naming the same objects reads each
once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubetune.api import TrainingJob, parse_resource
from kubetune.controllers.sightings import Sightings
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

    sightings = Sightings()
    missing = {m.reason: m.message for m in await missing_references(client, tj, sightings)}
    assert missing["SecretNotFound"] == f"spec.baseModel.source.tokenSecretRef: Secret {namespace}/hf-token does " \
                                        "not exist"

    kube.create(KubeREST.path("v1", "secrets", namespace), {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token"}, "stringData": {"token": "hf_x"}})
    # A missing object is not remembered: the next pass finds the Secret at once.
    assert "SecretNotFound" not in {m.reason for m in await missing_references(client, tj, sightings)}


class CountingClient(KubeClient):
    """The real client, counting the GETs it sends."""

    gets = 0

    async def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "GET":
            self.gets += 1
        return await super().request(method, path, *args, **kwargs)


async def test_a_burst_of_jobs_reads_each_referenced_object_once(client: KubeClient, kube: KubeREST,
                                                                 namespace: str) -> None:
    counting = CountingClient(client.connection)
    try:
        kube.create(KubeREST.path("v1", "secrets", namespace), {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token"}, "stringData": {"token": "hf_x"}})
        kube.create(KubeREST.path("v1", "persistentvolumeclaims", namespace), {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "out"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        tj = hub_trainingjob(namespace)
        clock = [0.0]
        sightings = Sightings(ttl=5.0, clock=lambda: clock[0])

        results = await asyncio.gather(*(missing_references(counting, tj, sightings) for _ in range(20)))
        assert all(r == [] for r in results)
        assert counting.gets == 2  # the Secret and the claim, once each for 20 jobs

        # Within the TTL a sighting stands; after it, the object is read again and its deletion noticed.
        kube.delete(KubeREST.path("v1", "secrets", namespace, "hf-token"))
        assert await missing_references(counting, tj, sightings) == []
        clock[0] = 5.0
        missing = await missing_references(counting, tj, sightings)
        assert [m.reason for m in missing] == ["SecretNotFound"]
        assert counting.gets == 4
    finally:
        await counting.close()
