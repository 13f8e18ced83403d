"""Watch the Deployments that FineTunedModels are served on, and their pods: one pod watch and one Deployment watch
per target, shared by every model served there.

vLLM keeps adapters only in memory, so every pod that turns Ready must get them: a pod turning Ready (or leaving)
queues a reconcile of each model on that Deployment, within moments, with no polling on the hot path. A change of the
Deployment itself (a new --max-lora-rank, a mounted volume, the Deployment appearing) does the same, so a model that
failed a check against its target is checked again when the target changes. The watches also keep the ready pods, so
the reconciles they trigger need not list them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..kube import ApiError, KubeClient
from ..kube.client import DEPLOYMENTS, PODS
from ..kube.errors import Gone
from ..serving.rollout import PodEndpoint
from ..serving.targets import is_ready, pod_selector
from .metrics import TARGET_WATCHES

log = logging.getLogger(__name__)
Json = dict[str, Any]
Target = tuple[str, str]  # (namespace, deployment)
RETRY_SECONDS = 2.0
WATCH_SECONDS = 240


@dataclass
class _Watched:
    task: asyncio.Task[None] | None = None
    models: set[str] = field(default_factory=set)
    deployment: Json | None = None
    ready: dict[str, Json] = field(default_factory=dict)  # pod uid -> pod, Ready ones only
    synced: bool = False  # the pods above come from a complete list


class TargetWatches:
    """The shared watches, started and stopped as models name their targets (``set_targets``)."""

    def __init__(self, client: KubeClient, wake: Callable[[str, str], None]) -> None:
        self.client = client
        self._wake = wake  # (namespace, model name) -> queue a reconcile
        self._targets: dict[Target, _Watched] = {}
        self._of_model: dict[tuple[str, str], set[str]] = {}

    def set_targets(self, namespace: str, model: str, deployments: set[str]) -> None:
        """The Deployments ``model`` is (or was, until unloaded) served on; an empty set stops following it."""
        before = self._of_model.get((namespace, model), set())
        if before == deployments:
            return
        for name in before - deployments:
            watched = self._targets.get((namespace, name))
            if watched is None:
                continue
            watched.models.discard(model)
            if not watched.models:
                if watched.task is not None:
                    watched.task.cancel()
                del self._targets[(namespace, name)]
        for name in deployments - before:
            watched = self._targets.setdefault((namespace, name), _Watched())
            watched.models.add(model)
            if watched.task is None:
                watched.task = asyncio.create_task(self._follow(namespace, name, watched))
        if deployments:
            self._of_model[(namespace, model)] = set(deployments)
        else:
            self._of_model.pop((namespace, model), None)
        TARGET_WATCHES.set(len(self._targets))

    def ready_pods(self, namespace: str, deployment: str, port: int) -> list[PodEndpoint] | None:
        """The Deployment's Ready pods as the watch last saw them; None until it has a complete list."""
        watched = self._targets.get((namespace, deployment))
        if watched is None or not watched.synced:
            return None
        return sorted((PodEndpoint(p["metadata"]["name"], p["status"]["podIP"], port) for p in watched.ready.values()),
                      key=lambda e: e.name)

    def _notify(self, namespace: str, deployment: str) -> None:
        watched = self._targets.get((namespace, deployment))
        for model in sorted(watched.models if watched else ()):
            try:
                self._wake(namespace, model)
            except Exception:  # a lost trigger would leave a new pod without its adapters until the resync
                log.exception("could not queue %s/%s after a change of %s", namespace, model, deployment)

    async def close(self) -> None:
        tasks = [w.task for w in self._targets.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._targets.clear()
        self._of_model.clear()

    # -- the watches ---------------------------------------------------------------------------------------------
    async def _follow(self, namespace: str, deployment: str, watched: _Watched) -> None:
        """Watch the Deployment; (re)start the pod watch whenever its selector changes. Runs until cancelled."""
        pods: asyncio.Task[None] | None = None
        selector: str | None = None
        by_name = f"metadata.name={deployment}"

        def seen(body: Json | None) -> None:
            nonlocal pods, selector
            self._deployment_seen(namespace, deployment, watched, body)
            wanted = pod_selector(body) if body else None
            if wanted == selector:
                return
            if pods is not None:
                pods.cancel()
            selector, pods = wanted, None
            watched.ready.clear()
            watched.synced = False
            if wanted:
                pods = asyncio.create_task(self._follow_pods(namespace, deployment, wanted, watched))

        try:
            while True:
                try:
                    items, version = await self.client.list_with_version(DEPLOYMENTS, namespace,
                                                                         field_selector=by_name)
                    seen(items[0] if items else None)
                    async for event in self.client.watch(DEPLOYMENTS, namespace, resource_version=version,
                                                         field_selector=by_name, timeout_seconds=WATCH_SECONDS):
                        if event["type"] != "BOOKMARK":
                            seen(None if event["type"] == "DELETED" else event["object"])
                    continue  # the server ended the watch: list and watch again
                except asyncio.CancelledError:
                    raise
                except (ApiError, OSError, ValueError, TimeoutError) as e:
                    if not isinstance(e, Gone):
                        log.info("watch of Deployment %s/%s restarts: %s", namespace, deployment, e)
                except Exception as e:
                    log.warning("watch of Deployment %s/%s failed: %s", namespace, deployment, e)
                await asyncio.sleep(RETRY_SECONDS)
        finally:
            if pods is not None:
                pods.cancel()

    def _deployment_seen(self, namespace: str, deployment: str, watched: _Watched, body: Json | None) -> None:
        before = watched.deployment
        watched.deployment = body
        if (before is None) != (body is None) or (before and body and (
                before["metadata"].get("generation") != body["metadata"].get("generation"))):
            self._notify(namespace, deployment)

    async def _follow_pods(self, namespace: str, deployment: str, selector: str, watched: _Watched) -> None:
        while True:
            try:
                pods, version = await self.client.list_with_version(PODS, namespace, label_selector=selector)
                ready = {p["metadata"]["uid"]: p for p in pods if is_ready(p)}
                if set(ready) != set(watched.ready) or not watched.synced:
                    watched.ready, watched.synced = ready, True
                    self._notify(namespace, deployment)
                async for event in self.client.watch(PODS, namespace, selector, version,
                                                     timeout_seconds=WATCH_SECONDS):
                    if event["type"] == "BOOKMARK":
                        continue
                    pod = event["object"]
                    uid = pod["metadata"]["uid"]
                    now_ready = event["type"] != "DELETED" and is_ready(pod)
                    was_ready = uid in watched.ready
                    if now_ready:
                        watched.ready[uid] = pod
                    else:
                        watched.ready.pop(uid, None)
                    if now_ready != was_ready:
                        self._notify(namespace, deployment)
            except asyncio.CancelledError:
                raise
            except (ApiError, OSError, ValueError, TimeoutError) as e:
                if not isinstance(e, Gone):
                    log.info("pod watch of %s/%s restarts: %s", namespace, deployment, e)
                await asyncio.sleep(RETRY_SECONDS)
            except Exception as e:
                log.warning("pod watch of %s/%s failed: %s", namespace, deployment, e)
                await asyncio.sleep(RETRY_SECONDS)
