"""The shared serving-target watches against the real control plane and process node: one watch per Deployment for
all the models served there, every model woken when a pod turns Ready or the Deployment changes, and a wake-up that
fails is not the end of the watch (a lost trigger would leave a new pod without its adapters)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubetune.controllers.model_watches import TargetWatches
from kubetune.kube import KubeClient
from kubetune_devcluster.kubeapi import KubeREST

pytestmark = [pytest.mark.cluster]


def sleeper(name: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "main", "image": "python:3.11-slim",
                                         "command": ["python", "-c", "import time; time.sleep(600)"],
                                         "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}]}}}}


async def eventually(check: Any, seconds: float = 60, what: str = "") -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_models_on_one_deployment_share_its_watch_and_are_all_woken(
        client: KubeClient, kube: KubeREST, namespace: str) -> None:
    woken: list[tuple[str, str]] = []
    failures = {"left": 1}

    def wake(ns: str, model: str) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("the queue is closed for a moment")
        woken.append((ns, model))

    watches = TargetWatches(client, wake)
    try:
        kube.create(KubeREST.path_for("Deployment", namespace), sleeper("srv", 1))
        watches.set_targets(namespace, "m1", {"srv"})
        watches.set_targets(namespace, "m2", {"srv"})
        assert len(watches._targets) == 1, "one watch for the Deployment, shared"
        await eventually(lambda: len(watches.ready_pods(namespace, "srv", 8000) or []) == 1, what="1 ready pod")

        woken.clear()
        kube.patch(KubeREST.path_for("Deployment", namespace, "srv"), {"spec": {"replicas": 2}})
        await eventually(lambda: len(watches.ready_pods(namespace, "srv", 8000) or []) == 2, what="2 ready pods")
        await eventually(lambda: {m for _, m in woken} >= {"m1", "m2"}, what="both models woken by the new pod")
        assert failures["left"] == 0, "the first wake-up failed, and the watch went on"

        # A change of the Deployment's spec (a new --max-lora-rank, say) wakes its models too.
        woken.clear()
        kube.patch(KubeREST.path_for("Deployment", namespace, "srv"),
                   {"spec": {"template": {"metadata": {"annotations": {"example.com/rev": "2"}}}}})
        await eventually(lambda: {m for _, m in woken} >= {"m1", "m2"}, what="both models woken by the change")

        watches.set_targets(namespace, "m1", set())
        assert len(watches._targets) == 1, "m2 still follows it"
        watches.set_targets(namespace, "m2", set())
        assert not watches._targets, "the last model gone, the watch stops"
    finally:
        await watches.close()
