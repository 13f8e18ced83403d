"""What every controller shares, kept in kopf's memo: the settings, the API and HTTP clients, one work queue per kind
with the newest bodies waiting for it, and the background tasks the operator runs per object (progress pulling).

The control model is the same for every kind: watch events put a key on the kind's queue (``enqueue``); one worker
at a time runs the kind's level-triggered reconcile for that key, which reads what is, derives the status with a
pure function, acts, and writes the status only when it changed, with the resourceVersion it read as a precondition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ..kube import KubeClient
from ..kube.versions import is_newer
from ..settings import OperatorSettings
from ..store import Mirror
from .events import EventRecorder
from .sightings import Sightings
from .workqueue import Gate, WorkQueue

log = logging.getLogger(__name__)
CREATIONS_FIRST = 1.0  # seconds a pass on an existing object waits at most for the creations in flight
MAX_OFFERED = 256  # bodies kept for queued reconciles; beyond that a reconcile reads its object itself
Key = tuple[str, str]  # (namespace, name)


@dataclass
class Runtime:
    settings: OperatorSettings
    client: KubeClient
    http: aiohttp.ClientSession  # for vLLM servers and operator pods, not the API server
    queues: dict[str, WorkQueue[Key]] = field(default_factory=dict)  # by kind, started with the operator
    mirror: Mirror | None = None  # the database mirror of every object's history (None: not started)
    extras: dict[str, Any] = field(default_factory=dict)  # shared per-kind machinery (target watches, caches)
    sightings: Sightings = field(default_factory=Sightings)  # referenced objects found a moment ago
    events: EventRecorder = field(init=False)  # Events on kubetune's objects: posted at once, queued in a burst
    _offered: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    _tasks: dict[tuple[str, ...], asyncio.Task[None]] = field(default_factory=dict)
    _own: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _made: dict[tuple[str, str, str], tuple[int | None, dict[str, Any]]] = field(default_factory=dict)
    # Closed (``creations.closed_while()``) around the calls that create a new object's children: in a burst of
    # applies the API server's time goes to the Jobs first; passes on existing objects and queued Events wait for it.
    creations: Gate = field(default_factory=lambda: Gate(CREATIONS_FIRST))

    def __post_init__(self) -> None:
        self.events = EventRecorder(self.client, busy=lambda: self.creations.closed, hold=self.creations.wait_open)

    # -- the queues ----------------------------------------------------------------------------------------------
    def observed(self, event_type: str | None, body: Any) -> None:
        """A watch event of one of kubetune's kinds: its state goes to the mirror (never blocks, never raises)."""
        if self.mirror is not None:
            self.mirror.observe(event_type, body)

    def enqueue(self, kind: str, namespace: str, name: str, body: Any = None) -> None:
        """Queue a reconcile of one object; ``body`` is the newest object a watch event delivered, if any."""
        if body is not None:
            self.offer(kind, namespace, name, dict(body))
        queue = self.queues.get(kind)
        if queue is None:
            log.debug("no queue for %s yet: %s/%s dropped (the start-up list reconciles it)", kind, namespace, name)
            return
        never_reconciled = body is not None and not (body.get("status") or {}).get("phase")
        queue.add((namespace, name), first=never_reconciled)

    def enqueue_soon(self, kind: str, namespace: str, name: str, window: float) -> None:
        """Queue a reconcile ``window`` seconds from now: the events that arrive meanwhile share that one pass."""
        queue = self.queues.get(kind)
        if queue is not None:
            queue.add_after((namespace, name), window)

    def offer(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Hand the newest body from a watch event to the next reconcile of the object, so it need not read it."""
        key = (kind, namespace, name)
        current = self._offered.get(key)
        if current is None and len(self._offered) >= MAX_OFFERED:
            return  # a burst: this one will be read when its turn comes, rather than held until then
        if current is None or is_newer(_version(body), _version(current)):
            self._offered[key] = body

    def take(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._offered.pop((kind, namespace, name), None)

    def drop_offered(self, kind: str, namespace: str, name: str) -> None:
        """A write found the offered body stale (409): the next pass reads the object instead."""
        self._offered.pop((kind, namespace, name), None)

    def wrote(self, kind: str, namespace: str, name: str, written: dict[str, Any]) -> None:
        """Remember the resourceVersion of the operator's own last write to the object."""
        self._own[(kind, namespace, name)] = _version(written)

    def is_own_write(self, kind: str, namespace: str, name: str, body: Any) -> bool:
        """Whether this watch event carries exactly the operator's last write: nothing new to reconcile."""
        version = _version(body)
        return bool(version) and self._own.get((kind, namespace, name)) == version

    def newcomers_waiting(self, kind: str) -> bool:
        """Whether objects of ``kind`` never reconciled wait for a worker (a burst of applies)."""
        queue = self.queues.get(kind)
        return queue is not None and queue.newcomers() > 0

    def made(self, kind: str, namespace: str, name: str, generation: int | None, child: dict[str, Any]) -> None:
        """A pass created the object's child and left its status to the next pass (which takes it here)."""
        self._made[(kind, namespace, name)] = (generation, child)

    def take_made(self, kind: str, namespace: str, name: str, generation: int | None) -> dict[str, Any] | None:
        """The child a pass created for this generation of the object, if its status is still to be written."""
        made = self._made.pop((kind, namespace, name), None)
        return made[1] if made is not None and made[0] == generation else None

    # -- background tasks ----------------------------------------------------------------------------------------
    def ensure_task(self, key: tuple[str, ...], factory: Callable[[], Awaitable[None]]) -> None:
        """Run ``factory()`` as the one task under ``key`` unless it already runs."""
        task = self._tasks.get(key)
        if task is not None and not task.done():
            return
        self._tasks[key] = asyncio.create_task(_logged(factory, key))

    def cancel_task(self, key: tuple[str, ...]) -> None:
        task = self._tasks.pop(key, None)
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    def forget(self, kind: str, namespace: str, name: str) -> None:
        """Drop everything held for a deleted object: its offered body, queue state and tasks."""
        self._offered.pop((kind, namespace, name), None)
        self._own.pop((kind, namespace, name), None)
        self._made.pop((kind, namespace, name), None)
        queue = self.queues.get(kind)
        if queue is not None:
            queue.discard((namespace, name))
        for key in [k for k in self._tasks if k[:3] == (kind, namespace, name)]:
            self.cancel_task(key)

    async def close(self) -> None:
        await asyncio.gather(*(queue.close() for queue in self.queues.values()))
        await self.events.close()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _version(body: Any) -> str:
    return str((body.get("metadata") or {}).get("resourceVersion") or "")


async def _logged(factory: Callable[[], Awaitable[None]], key: tuple[str, ...]) -> None:
    try:
        await factory()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s failed", "/".join(key))
