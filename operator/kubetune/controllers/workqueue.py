"""A work queue of object keys, as client-go's: a key is queued once however many events name it, never processed
by two workers at once, queued again if an event arrives while it is being processed, and retried with a per-key
exponential backoff when its reconcile fails (client-go's ItemExponentialFailureRateLimiter).

Watch-event handlers only add keys and return, so kopf does not hold event bodies while reconciles wait their turn:
memory stays bounded by the number of workers, not by the size of a burst.

Keys of objects never reconciled go first; with a ``Gate``, keys of objects already reconciled also wait while it is
closed (a burst's Job creations in flight), and a worker waiting there takes a new object's key as soon as one comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K")


@dataclass(frozen=True)
class Requeue:
    """What a reconcile asks for when it is not done: another pass after a fixed delay (a timer it owns, such as a
    TTL), or after the key's exponential backoff (waiting on something outside: a missing reference, a Job that
    cannot create its pod)."""

    after: float | None = None
    backoff: bool = False


@dataclass(frozen=True)
class Backoff:
    """Per-key exponential delays: ``base * 2**failures``, at most ``cap`` seconds."""

    base: float = 0.1
    cap: float = 300.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.base * 2 ** min(failures, 32))


class Gate:
    """Closed while work that comes first is in flight (``closed_while``); what waits for it to open waits at most
    ``cap`` seconds, so a steady stream of that work delays the rest but never stops it."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self._holders = 0
        self._open = asyncio.Event()
        self._open.set()

    @property
    def closed(self) -> bool:
        return self._holders > 0

    @contextlib.contextmanager
    def closed_while(self) -> Iterator[None]:
        self._holders += 1
        self._open.clear()
        try:
            yield
        finally:
            self._holders -= 1
            if not self._holders:
                self._open.set()

    async def opened(self) -> None:
        """Until the gate is open, however long that takes (the caller bounds the wait)."""
        await self._open.wait()

    async def wait_open(self) -> None:
        """Until the gate is open, at most ``cap`` seconds."""
        if self._holders:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._open.wait(), self.cap)


Handler = Callable[[K], Awaitable[Requeue | None]]
ErrorHook = Callable[[K, Exception, int], Awaitable[None]]


class WorkQueue(Generic[K]):
    def __init__(self, handler: Handler[K], workers: int, backoff: Backoff | None = None,
                 on_error: ErrorHook[K] | None = None, name: str = "", gate: Gate | None = None) -> None:
        self._handler = handler
        self._on_error = on_error
        self._backoff = backoff or Backoff()
        self.name = name
        # Keys of objects never reconciled go first: a burst of new TrainingJobs gets its Jobs created before the
        # passes their own children's events set off.
        self._first: deque[K] = deque()
        self._rest: deque[K] = deque()
        self._gate = gate
        self._newcomer = asyncio.Event()  # set when a key goes into _first: wakes the workers waiting at the gate
        self._ready = asyncio.Semaphore(0)
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._closed = False
        self._workers = [asyncio.create_task(self._work()) for _ in range(max(1, workers))]

    def add(self, key: K, first: bool = False) -> None:
        """Queue ``key``; ``first`` puts it ahead of the keys already waiting (an object never reconciled)."""
        if self._closed or key in self._queued:
            return
        if key in self._active:
            self._dirty.add(key)  # processed again once the running pass ends
            return
        self._queued.add(key)
        (self._first if first else self._rest).append(key)
        if first:
            self._newcomer.set()
        self._ready.release()

    def add_after(self, key: K, delay: float) -> None:
        """Add the key in ``delay`` seconds; an earlier pending timer for it wins, as client-go's AddAfter."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            pending[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: K) -> float:
        """Add the key after its backoff delay, which doubles with each call until ``forget``; returns the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = self._backoff.delay(failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """The key succeeded: its next backoff starts from the base delay again."""
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def discard(self, key: K) -> None:
        """Drop all state of a key whose object is gone (a queued pass still runs, and finds it gone)."""
        self.forget(key)
        pending = self._timers.pop(key, None)
        if pending is not None:
            pending[1].cancel()

    def __len__(self) -> int:
        return len(self._queued)

    def newcomers(self) -> int:
        """Keys of objects never reconciled that wait for a worker."""
        return len(self._first)

    async def _take(self) -> K:
        """The next key: a new object's first; another only once the gate is open (or it waited ``cap`` seconds)."""
        await self._ready.acquire()  # one key is this worker's, whichever deque it ends up coming from
        if not self._first and self._gate is not None and self._gate.closed:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._gate.cap
            while not self._first and self._gate.closed and (left := deadline - loop.time()) > 0:
                self._newcomer.clear()
                waits = [asyncio.ensure_future(self._newcomer.wait()), asyncio.ensure_future(self._gate.opened())]
                try:
                    await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for wait in waits:
                        wait.cancel()
        return self._first.popleft() if self._first else self._rest.popleft()

    async def _work(self) -> None:
        while True:
            key = await self._take()
            self._queued.discard(key)
            self._active.add(key)
            try:
                result = await self._handler(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                delay = self.add_rate_limited(key)
                log.warning("reconcile of %s %s failed (retry in %.1fs): %s", self.name, key, delay, e,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                if self._on_error is not None:
                    try:
                        await self._on_error(key, e, self.failures(key))
                    except Exception:
                        log.exception("reporting the failure of %s %s failed", self.name, key)
            else:
                if result is None:
                    self.forget(key)
                elif result.backoff:
                    self.add_rate_limited(key)
                else:
                    self.forget(key)
                    if result.after is not None:
                        self.add_after(key, result.after)
            finally:
                self._active.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)

    async def close(self) -> None:
        self._closed = True
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
