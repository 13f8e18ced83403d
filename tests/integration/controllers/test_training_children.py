"""ensure_job against the real API server: the ConfigMap and the Job are created in one round trip, and a Job whose
ConfigMap cannot be made does not stay behind to wait for it."""

from __future__ import annotations

import uuid

import pytest

from kubetune.api import TrainingJob, parse_resource
from kubetune.builders.training import trainer_name
from kubetune.controllers.ownership import NameConflict
from kubetune.controllers.training_children import ensure_job
from kubetune.kube import KubeClient
from kubetune.settings import OperatorSettings
from kubetune_devcluster.kubeapi import KubeREST

pytestmark = [pytest.mark.cluster]


def trainingjob(namespace: str) -> TrainingJob:
    tj = parse_resource({"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob",
                         "metadata": {"name": "tj", "namespace": namespace, "uid": str(uuid.uuid4())}, "spec": {
        "baseModel": {"name": "tiny", "source": {"pvc": {"claimName": "models", "path": "tiny"}}},
        "dataset": {"source": {"inline": [{"text": "x"}]}, "format": "text"},
        "resources": {"gpus": 0}, "output": {"modelName": "m", "storage": {"pvc": {"claimName": "out"}}}}})
    assert isinstance(tj, TrainingJob)
    return tj


async def test_the_configmap_and_the_job_are_made_once(client: KubeClient, kube: KubeREST, namespace: str) -> None:
    tj = trainingjob(namespace)
    settings = OperatorSettings.from_env()

    job, created = await ensure_job(client, tj, settings)
    again, created_again = await ensure_job(client, tj, settings)

    assert created and not created_again
    assert again["metadata"]["uid"] == job["metadata"]["uid"]
    configmap = kube.get(KubeREST.path_for("ConfigMap", namespace, trainer_name(tj)))
    assert [o["uid"] for o in configmap["metadata"]["ownerReferences"]] == [tj.metadata.uid]


async def test_a_configmap_name_taken_by_someone_else_leaves_no_job(client: KubeClient, kube: KubeREST,
                                                                     namespace: str) -> None:
    tj = trainingjob(namespace)
    kube.create(KubeREST.path_for("ConfigMap", namespace), {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": trainer_name(tj)}, "data": {"mine": "yes"}})

    with pytest.raises(NameConflict, match=f"ConfigMap {namespace}/{trainer_name(tj)} exists and was not created"):
        await ensure_job(client, tj, OperatorSettings.from_env())

    job = kube.get_or_none(KubeREST.path_for("Job", namespace, trainer_name(tj)))
    assert job is None or job["metadata"].get("deletionTimestamp"), "a Job is left waiting for a ConfigMap"
    assert kube.get(KubeREST.path_for("ConfigMap", namespace, trainer_name(tj)))["data"] == {"mine": "yes"}
