"""What every handler shares, kept in kopf's memo: the settings, the API clients, per-object turns, and the
background tasks the operator runs per object (progress pulling, retries, TTL timers)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ..kube import KubeClient
from ..settings import OperatorSettings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: OperatorSettings
    client: KubeClient
    http: aiohttp.ClientSession  # for vLLM servers and training pods, not the API server
    _locks: dict[tuple[str, str, str], asyncio.Lock] = field(default_factory=dict)
    _waiting: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _slots: asyncio.Semaphore | None = None
    _offered: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    _tasks: dict[tuple[str, ...], asyncio.Task[None]] = field(default_factory=dict)
    _own: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def lock(self, kind: str, namespace: str, name: str) -> asyncio.Lock:
        """One lock per object: job, pod and object events for the same TrainingJob reconcile one at a time."""
        key = (kind, namespace, name)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def waiting(self, kind: str, namespace: str, name: str) -> bool:
        """Whether a caller of ``turn`` for this object is still waiting for the lock (and has read nothing yet)."""
        return self._waiting[(kind, namespace, name)] > 0

    @asynccontextmanager
    async def turn(self, kind: str, namespace: str, name: str) -> AsyncIterator[None]:
        """Hold the object's lock and one of ``settings.max_concurrent_reconciles`` places, counting as ``waiting``
        until both are held. The places bound the memory a burst of events can take: each reconcile holds the objects
        it read."""
        key = (kind, namespace, name)
        lock = self.lock(kind, namespace, name)
        limit = self.settings.max_concurrent_reconciles
        if limit > 0 and self._slots is None:
            self._slots = asyncio.Semaphore(limit)
        slots = self._slots if limit > 0 else None
        self._waiting[key] += 1
        try:
            await lock.acquire()
            try:
                if slots is not None:
                    await slots.acquire()
            except BaseException:
                lock.release()
                raise
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
        try:
            yield
        finally:
            if slots is not None:
                slots.release()
            lock.release()

    def offer(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Hand the newest body from a watch event to the next reconcile of the object, so it need not read it."""
        key = (kind, namespace, name)
        current = self._offered.get(key)
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
