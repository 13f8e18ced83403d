"""A work queue of object keys, as client-go's: a key is queued once however many events name it, never processed
by two workers at once, and queued again if an event arrives while it is being processed.

Watch-event handlers only add keys and return, so kopf does not hold event bodies while reconciles wait their turn:
memory stays bounded by the number of workers, not by the size of a burst.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K")


class WorkQueue(Generic[K]):
    def __init__(self, handler: Callable[[K], Awaitable[None]], workers: int) -> None:
        self._handler = handler
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._workers = [asyncio.create_task(self._work()) for _ in range(max(1, workers))]

    def add(self, key: K) -> None:
        if key in self._queued:
            return
        if key in self._active:
            self._dirty.add(key)  # processed again once the running pass ends
            return
        self._queued.add(key)
        self._queue.put_nowait(key)

    def __len__(self) -> int:
        return len(self._queued)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            try:
                await self._handler(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconcile of %s failed", key)
            finally:
                self._active.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
