"""Kubernetes Events on kubetune's objects, posted through the operator's own client.

kopf's poster only runs for calls made inside its handlers; reconciles run from the work queue, so they post here.
A reconcile posts its Event right after the status write it reports, before the pass ends; while the operator is
creating a burst's Jobs, Events are queued instead and a few background tasks post them once the creations are done
(as client-go's recorder always does), so the API server's time goes to the Jobs first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..kube import ApiError, KubeClient
from ..kube.client import EVENTS

log = logging.getLogger(__name__)
COMPONENT = "kubetune-operator"


def build_event(obj: Mapping[str, Any], kind: str, reason: str, message: str, now: datetime) -> dict[str, Any]:
    meta = obj["metadata"]
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta["name"],
                           "namespace": meta["namespace"], "uid": meta.get("uid"),
                           "resourceVersion": meta.get("resourceVersion")},
        "type": kind, "reason": reason, "message": message[:1024],
        "source": {"component": COMPONENT}, "reportingComponent": COMPONENT, "reportingInstance": COMPONENT,
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }


class EventRecorder:
    """Posts Events on kubetune's objects: at once, or, while ``busy()``, through a queue that ``workers`` background
    tasks drain, each post waiting first for ``hold`` (the creations in flight). Best effort, like every Event: one
    that cannot be posted, or does not fit in a full queue, is logged and dropped."""

    def __init__(self, client: KubeClient, busy: Callable[[], bool] = lambda: False,
                 hold: Callable[[], Awaitable[None]] | None = None, workers: int = 4, capacity: int = 2000) -> None:
        self._client = client
        self._busy = busy
        self._hold = hold
        self._workers_wanted = workers
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(capacity)
        self._workers: list[asyncio.Task[None]] = []

    async def emit(self, obj: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        """Post an Event on ``obj`` (stamped now), or queue it while the operator is busy (or Events still wait:
        they keep their order)."""
        event = build_event(obj, kind, reason, message, datetime.now(UTC))
        if not self._busy() and self._queue.empty():
            await self._send(event)
            return
        if not self._workers:
            self._workers = [asyncio.create_task(self._post()) for _ in range(self._workers_wanted)]
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.info("event %s on %s dropped: %d events wait to be posted", reason, obj["metadata"].get("name"),
                     self._queue.qsize())

    async def _send(self, event: dict[str, Any]) -> None:
        try:
            await self._client.create(EVENTS, event, event["metadata"]["namespace"])
        except (ApiError, OSError) as e:
            log.info("event %s on %s not posted: %s", event["reason"], event["involvedObject"]["name"], e)

    async def _post(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                if self._hold is not None:
                    await self._hold()
                await self._send(event)
            except Exception:
                log.exception("event %s on %s not posted", event["reason"], event["involvedObject"]["name"])
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued Event has been posted (or given up on)."""
        if self._workers:
            await self._queue.join()

    async def close(self, grace: float = 2.0) -> None:
        """Post what is queued (for at most ``grace`` seconds), then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), grace)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
