"""Watch the pods of a FineTunedModel's serving targets, so a pod that restarts or scales out gets the adapter
within moments of turning Ready: vLLM keeps adapters only in memory, so every new pod starts without them.

A watch per target, server-side filtered by the Deployment's own selector; no polling timer on the hot path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..kube import ApiError
from ..kube.client import DEPLOYMENTS, PODS
from ..serving.targets import is_ready, pod_selector
from .runtime import Runtime

log = logging.getLogger(__name__)
RESYNC_SECONDS = 60.0  # a safety net only: a vLLM process that restarts in place without its pod leaving Ready
RETRY_SECONDS = 2.0


async def watch_target(runtime: Runtime, namespace: str, deployment: str,
                       on_change: Callable[[], Awaitable[None]]) -> None:
    """Call ``on_change`` whenever a pod of the Deployment turns Ready or stops being Ready. Runs until cancelled."""
    client = runtime.client
    while True:
        try:
            dep = await client.get_or_none(DEPLOYMENTS, deployment, namespace)
            if dep is None:
                await asyncio.sleep(RETRY_SECONDS)
                continue
            selector = pod_selector(dep)
            pods, version = await client.list_with_version(PODS, namespace, selector)
            ready = {p["metadata"]["uid"] for p in pods if is_ready(p)}
            async for event in client.watch(PODS, namespace, selector, version, timeout_seconds=240):
                pod = event["object"]
                if event["type"] == "BOOKMARK":
                    continue
                uid = pod["metadata"]["uid"]
                now_ready = event["type"] != "DELETED" and is_ready(pod)
                if now_ready != (uid in ready):
                    (ready.add if now_ready else ready.discard)(uid)
                    await on_change()
        except asyncio.CancelledError:
            raise
        except (ApiError, OSError, ValueError, asyncio.TimeoutError) as e:  # noqa: UP041 - aiohttp raises both
            log.info("pod watch of %s/%s restarts: %s", namespace, deployment, e)
            await asyncio.sleep(RETRY_SECONDS)
        except Exception as e:
            log.warning("pod watch of %s/%s failed: %s", namespace, deployment, e)
            await asyncio.sleep(RETRY_SECONDS)


def _deployments(body: Any) -> tuple[str, ...]:
    targets = ((body.get("spec") or {}).get("serving") or {}).get("targets") or []
    return tuple(sorted({t["deployment"] for t in targets}))


async def follow_targets(runtime: Runtime, namespace: str, body: Any, stopped: Any,
                         reconcile: Callable[[], Awaitable[None]]) -> None:
    """Keep one watch per target Deployment of the (live) body, restarting them when the targets change."""
    watched: tuple[str, ...] = ()
    tasks: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    next_resync = loop.time() + RESYNC_SECONDS
    try:
        while not stopped:
            wanted = _deployments(body)
            if wanted != watched:
                for task in tasks:
                    task.cancel()
                tasks = [asyncio.create_task(watch_target(runtime, namespace, d, reconcile)) for d in wanted]
                watched = wanted
            if loop.time() >= next_resync:
                next_resync = loop.time() + RESYNC_SECONDS
                await reconcile()
            await stopped.wait(1.0)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
