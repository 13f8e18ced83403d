"""What every handler shares, kept in kopf's memo: the settings, the API clients, the TrainingJob work queue with the
newest bodies waiting for it, per-object locks, and the background tasks the operator runs per object (progress
pulling, retries, TTL timers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ..kube import KubeClient
from ..settings import OperatorSettings
from .workqueue import WorkQueue

log = logging.getLogger(__name__)
MAX_OFFERED = 256  # bodies kept for queued reconciles; beyond that a reconcile reads its object itself


@dataclass
class Runtime:
    settings: OperatorSettings
    client: KubeClient
    http: aiohttp.ClientSession  # for vLLM servers and training pods, not the API server
    _locks: dict[tuple[str, str, str], asyncio.Lock] = field(default_factory=dict)
    _offered: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    _tasks: dict[tuple[str, ...], asyncio.Task[None]] = field(default_factory=dict)
    _own: dict[tuple[str, str, str], str] = field(default_factory=dict)
    trainingjobs: WorkQueue[tuple[str, str]] | None = None  # (namespace, name), started with the operator

    def lock(self, kind: str, namespace: str, name: str) -> asyncio.Lock:
        """One lock per object: pod-watch, validation-pod and object events of one FineTunedModel reconcile one at a
        time (TrainingJobs get the same from their work queue)."""
        key = (kind, namespace, name)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def offer(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Hand the newest body from a watch event to the next reconcile of the object, so it need not read it."""
        key = (kind, namespace, name)
        current = self._offered.get(key)
        if current is None and len(self._offered) >= MAX_OFFERED:
            return  # a burst: this one will be read when its turn comes, rather than held until then
        if current is None or _version(body) >= _version(current):
            self._offered[key] = body

    def wrote(self, kind: str, namespace: str, name: str, written: dict[str, Any]) -> None:
        """Remember the resourceVersion of the operator's own last write to the object."""
        self._own[(kind, namespace, name)] = str(written.get("metadata", {}).get("resourceVersion", ""))

    def is_own_write(self, kind: str, namespace: str, name: str, body: Any) -> bool:
        """Whether this watch event carries exactly the operator's last write: nothing new to reconcile."""
        version = str(body.get("metadata", {}).get("resourceVersion", ""))
        return bool(version) and self._own.get((kind, namespace, name)) == version

    def take(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._offered.pop((kind, namespace, name), None)

    def ensure_task(self, key: tuple[str, ...], factory: Callable[[], Awaitable[None]]) -> None:
        """Run ``factory()`` as the one task under ``key`` unless it already runs."""
        task = self._tasks.get(key)
        if task is not None and not task.done():
            return
        self._tasks[key] = asyncio.create_task(_logged(factory, key))

    def later(self, key: tuple[str, ...], delay: float, factory: Callable[[], Awaitable[None]]) -> None:
        """Run ``factory()`` after ``delay`` seconds, replacing whatever was scheduled under ``key``."""
        self.cancel_task(key)

        async def delayed() -> None:
            await asyncio.sleep(delay)
            await factory()

        self._tasks[key] = asyncio.create_task(_logged(delayed, key))

    def cancel_task(self, key: tuple[str, ...]) -> None:
        task = self._tasks.pop(key, None)
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    def forget(self, kind: str, namespace: str, name: str) -> None:
        """Drop everything held for a deleted object: its lock, offered body and tasks."""
        self._locks.pop((kind, namespace, name), None)
        self._offered.pop((kind, namespace, name), None)
        self._own.pop((kind, namespace, name), None)
        for key in [k for k in self._tasks if k[:3] == (kind, namespace, name)]:
            self.cancel_task(key)

    async def close(self) -> None:
        if self.trainingjobs is not None:
            await self.trainingjobs.close()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _version(body: dict[str, Any]) -> int:
    try:
        return int(body.get("metadata", {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


async def _logged(factory: Callable[[], Awaitable[None]], key: tuple[str, ...]) -> None:
    try:
        await factory()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s failed", "/".join(key))
