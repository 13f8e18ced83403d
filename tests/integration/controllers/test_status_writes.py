"""Status writes against the real API server: conditional on the resourceVersion the reconcile read, so a pass
derived from a stale read can never overwrite a newer status (it is repeated from a fresh read instead)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubetune.controllers.resources import TRAININGJOBS
from kubetune.controllers.runtime import Runtime
from kubetune.controllers.status import StaleRead, write_status
from kubetune.kube import KubeClient
from kubetune.settings import OperatorSettings
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST

pytestmark = [pytest.mark.cluster]


@pytest.fixture
async def runtime(cluster: LocalCluster, crds: list[dict[str, Any]]) -> AsyncIterator[Runtime]:
    client = KubeClient.discover(str(cluster.kubeconfig))
    yield Runtime(settings=OperatorSettings(), client=client, http=None)  # type: ignore[arg-type]
    await client.close()


def trainingjob(name: str) -> dict[str, Any]:
    return {"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob", "metadata": {"name": name}, "spec": {
        "baseModel": {"name": "m", "source": {"pvc": {"claimName": "models"}}},
        "dataset": {"source": {"inline": [{"text": "x"}]}, "format": "text"},
        "resources": {"gpus": 0}, "output": {"modelName": "m", "storage": {"pvc": {"claimName": "out"}}}}}


async def test_a_write_from_a_stale_read_is_refused(runtime: Runtime, kube: KubeREST, namespace: str) -> None:
    created = kube.create(KubeREST.path("kubetune.dev/v1alpha1", "trainingjobs", namespace), trainingjob("tj"))
    stale = dict(created)
    newer = await write_status(runtime, "TrainingJob", TRAININGJOBS, created, {"phase": "Running",
                                                                                "reason": "Training"})
    assert runtime.is_own_write("TrainingJob", namespace, "tj", newer)
    # A pass that started from the old body (an older watch event) must not put Pending back over Running.
    with pytest.raises(StaleRead):
        await write_status(runtime, "TrainingJob", TRAININGJOBS, stale, {"phase": "Pending", "reason": "Waiting"})
    current = kube.get(KubeREST.path("kubetune.dev/v1alpha1", "trainingjobs", namespace, "tj"))
    assert current["status"]["phase"] == "Running"
    # From a current read it goes through.
    await write_status(runtime, "TrainingJob", TRAININGJOBS, current, {"phase": "Succeeded", "reason": "Completed"})
    assert kube.get(KubeREST.path("kubetune.dev/v1alpha1", "trainingjobs", namespace, "tj"))["status"]["phase"] == \
        "Succeeded"
