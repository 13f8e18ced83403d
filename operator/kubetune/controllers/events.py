"""Kubernetes Events on kubetune's objects, posted through the operator's own client.

kopf's poster only runs for calls made inside its handlers; reconciles run from the work queue, so they record here.
As client-go's event recorder does, a reconcile only queues an Event and goes on: a few workers post them in the
background, so a burst of new TrainingJobs gets its Jobs created before the Events that say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
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
    """Events queued by reconciles and posted by ``workers`` background tasks; best effort, like every Event (one
    that does not fit in a full queue is logged and dropped)."""

    def __init__(self, client: KubeClient, workers: int = 4, capacity: int = 2000) -> None:
        self._client = client
        self._workers_wanted = workers
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(capacity)
        self._workers: list[asyncio.Task[None]] = []

    def record(self, obj: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        """Queue an Event on ``obj`` (stamped now) and return at once."""
        if not self._workers:
            self._workers = [asyncio.create_task(self._post()) for _ in range(self._workers_wanted)]
        try:
            self._queue.put_nowait(build_event(obj, kind, reason, message, datetime.now(UTC)))
        except asyncio.QueueFull:
            log.info("event %s on %s dropped: %d events wait to be posted", reason, obj["metadata"].get("name"),
                     self._queue.qsize())

    async def _post(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._client.create(EVENTS, event, event["metadata"]["namespace"])
            except (ApiError, OSError) as e:
                log.info("event %s on %s not posted: %s", event["reason"], event["involvedObject"]["name"], e)
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
