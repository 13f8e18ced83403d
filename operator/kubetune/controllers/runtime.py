"""What every handler shares, kept in kopf's memo: the settings, the API client and per-object locks."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

from ..kube import KubeClient
from ..settings import OperatorSettings


@dataclass
class Runtime:
    settings: OperatorSettings
    client: KubeClient
    http: aiohttp.ClientSession  # for vLLM servers and training pods, not the API server
    _locks: dict[tuple[str, str, str], asyncio.Lock] = field(default_factory=dict)
    _waiting: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _slots: asyncio.Semaphore | None = None

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

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self._locks.pop((kind, namespace, name), None)
