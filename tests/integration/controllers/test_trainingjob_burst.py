"""A burst of new TrainingJobs through the real work queue and reconcile, against the real API server: with fewer
workers than jobs (whose pods no node can hold, so they stay Queued), every Job is created before the statuses of the
first ones are written; each job gets exactly one Job, its status and its Event; and no pass reads a TrainingJob the
watch already gave it, or a claim another job's pass found a moment ago."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubetune.controllers.runtime import Runtime
from kubetune.controllers.startup import start_queues
from kubetune.controllers.training_reconcile import KIND
from kubetune.kube import KubeClient
from kubetune.settings import OperatorSettings
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST

pytestmark = [pytest.mark.cluster]
TJ_API = "kubetune.dev/v1alpha1"
BURST = 12
WORKERS = 2


class RecordingClient(KubeClient):
    """The real client, keeping the method and path of every request in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        self.sent.append((method, path))
        return await super().request(method, path, *args, **kwargs)


@pytest.fixture
async def runtime(cluster: LocalCluster, crds: list[dict[str, Any]]) -> AsyncIterator[Runtime]:
    client = RecordingClient.discover(str(cluster.kubeconfig))
    rt = Runtime(settings=OperatorSettings(max_concurrent_reconciles=WORKERS), client=client,
                 http=None)  # type: ignore[arg-type]
    start_queues(rt)
    yield rt
    await rt.close()
    await client.close()


def trainingjob(name: str) -> dict[str, Any]:
    return {"apiVersion": TJ_API, "kind": "TrainingJob", "metadata": {"name": name}, "spec": {
        "baseModel": {"name": "m", "source": {"pvc": {"claimName": "models"}}},
        "dataset": {"source": {"inline": [{"text": "x"}]}, "format": "text"},
        "resources": {"gpus": 0, "memory": "64Ti"},
        "output": {"modelName": "m", "storage": {"pvc": {"claimName": "out"}}}}}


async def test_a_burst_gets_its_jobs_before_its_statuses(runtime: Runtime, kube: KubeREST, namespace: str) -> None:
    for claim in ("models", "out"):
        kube.create(KubeREST.path_for("PersistentVolumeClaim", namespace), {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    names = [f"tj-{i:02d}" for i in range(BURST)]
    for name in names:  # as the watch delivers them: each with its body
        body = kube.create(KubeREST.path(TJ_API, "trainingjobs", namespace), trainingjob(name))
        runtime.enqueue(KIND, namespace, name, body)

    deadline = time.monotonic() + 60
    while True:
        items = kube.get(KubeREST.path(TJ_API, "trainingjobs", namespace))["items"]
        if sum(1 for tj in items if (tj.get("status") or {}).get("phase") == "Queued") == BURST:
            break
        assert time.monotonic() < deadline, [(tj["metadata"]["name"], tj.get("status")) for tj in items]
        await asyncio.sleep(0.2)
    await runtime.events.flush()

    sent: list[tuple[str, str]] = runtime.client.sent  # type: ignore[attr-defined]
    job_posts = [i for i, (method, path) in enumerate(sent) if method == "POST" and path.endswith("/jobs")]
    status_writes = [i for i, (method, path) in enumerate(sent) if method == "PATCH" and path.endswith("/status")]
    assert len(job_posts) == BURST and len(status_writes) >= BURST  # later passes may see the pod unschedulable
    # Only the last jobs, taken when nothing new waited any more, write their status straight after their Job.
    assert status_writes[0] > job_posts[BURST - WORKERS - 1]
    # Up to its first status write, each job's passes worked from the body the watch (here: the create) gave.
    for name in names:
        first_write = sent.index(("PATCH", f"{KubeREST.path(TJ_API, 'trainingjobs', namespace, name)}/status"))
        assert ("GET", KubeREST.path(TJ_API, "trainingjobs", namespace, name)) not in sent[:first_write]
    # The two claims all twelve jobs name were read once each.
    assert len([path for method, path in sent if method == "GET" and "/persistentvolumeclaims/" in path]) == 2

    jobs = kube.get(KubeREST.path_for("Job", namespace))["items"]
    owners = sorted(job["metadata"]["ownerReferences"][0]["name"] for job in jobs)
    assert owners == names
    uids = {tj["metadata"]["name"]: tj["metadata"]["uid"] for tj in items}
    assert all(job["metadata"]["ownerReferences"][0]["uid"] == uids[job["metadata"]["ownerReferences"][0]["name"]]
               for job in jobs)
    events = kube.get(KubeREST.path_for("Event", namespace))["items"]
    queued = {e["involvedObject"]["name"] for e in events if e["message"].startswith("New -> Queued")}
    assert queued == set(names)
