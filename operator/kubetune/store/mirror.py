"""The Mirror: one asyncio task that writes what the operator observes and records into the database, without ever
making the operator wait.

Enqueueing (``observe``, ``record_*``) is a non-blocking call on the event loop: it adds to a bounded buffer and
returns. The writer task takes batches from the buffer and commits each in one transaction on its own thread, so
database latency never reaches the loop. A batch leaves the buffer only once committed:

- database down: the batch stays, the writer retries with exponential backoff (0.5 s doubling to 5 s), history keeps
  accumulating in the buffer (up to its bound) and snapshots coalesce to one per object;
- back up: it writes what it holds and relists the cluster (through the operator's ``lister``), so rows of objects
  that changed or went away meanwhile catch up;
- every ``relist_interval`` it relists too, and marks rows of objects gone from the cluster with ``deleted_at``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from ..settings import OperatorSettings
from . import metrics
from .buffer import Batch, PendingRecords
from .database import make_engine, redact, resolve_url
from .errors import DatabaseUnavailable, MigrationFailed
from .migrate import current, head, upgrade
from .records import Action, Deployment, HistoryRecord, MetricPoint, Outcome, Sample
from .snapshots import MalformedObject, Snapshot
from .tables import CURRENT_STATE
from .writes import insert_history, last_step, tombstone_missing, upsert_snapshots

log = logging.getLogger(__name__)
T = TypeVar("T")
Listing = Mapping[str, Sequence[Mapping[str, Any]]]
Lister = Callable[[], Awaitable[Listing]]
"""``async () -> {kind: [body, ...]}``: every mirrored object the operator can see, by kind (TrainingJob,
FineTunedModel, ModelComparison). A kind left out is neither upserted nor tombstoned."""
CONNECTIVITY = (OperationalError, InterfaceError, DisconnectionError, DatabaseUnavailable)
RETRY_INITIAL, RETRY_MAX = 0.5, 5.0  # a refused connection is cheap: retry often, catch up soon after
LISTER_RETRY = 10.0  # seconds before a relist whose listing failed is tried again
GATHER_SECONDS = 0.1  # after a wake-up, what else arrives within this is written in the same transaction


@dataclass(frozen=True)
class MirrorSettings:
    batch_size: int = 500
    """Rows per transaction at most."""
    queue_bound: int = 50_000
    """Records held at most; more are dropped and counted."""
    relist_interval: float = 300.0
    """Seconds between relists that tombstone rows of vanished objects; 0: only after outages."""
    migrate: bool = True
    """Upgrade the schema before the first write (under a Postgres advisory lock)."""
    namespaces: tuple[str, ...] = ()
    """The namespaces the operator watches (kopf patterns: globs, ``!excluded``); rows outside them are never
    tombstoned by a relist. Empty: all."""

    @classmethod
    def from_operator(cls, settings: OperatorSettings, namespaces: Sequence[str] = ()) -> MirrorSettings:
        return cls(batch_size=settings.mirror_batch_size, queue_bound=settings.mirror_queue_bound,
                   relist_interval=settings.mirror_relist_interval, migrate=settings.database_migrate,
                   namespaces=tuple(namespaces))


@dataclass
class MirrorStats:
    """What the writer did since it started: the figures behind its Prometheus metrics, per instance."""

    written: int = 0
    batches: int = 0
    dropped: int = 0
    rejected: int = 0
    tombstoned: int = 0
    relists: int = 0
    outages: int = 0


class Mirror:
    """Mirrors the cluster's kubetune objects and the operator's history records into ``url``.

    Create it, ``await start()`` inside the operator's event loop, feed it, ``await stop()`` at shutdown."""

    def __init__(self, url: str, lister: Lister | None = None, settings: MirrorSettings | None = None) -> None:
        self.url = url
        self.settings = settings or MirrorSettings()
        self._lister = lister
        self._buffer = PendingRecords(self.settings.queue_bound)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubetune-mirror")
        self._engine: Engine | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()  # the schema is in place: writes may start
        self._down_since: float | None = None
        self._relist_due = lister is not None  # once at start: objects deleted while the operator was away
        self._relist_not_before = 0.0
        self._next_relist = 0.0
        self.stats = MirrorStats()

    @classmethod
    def from_settings(cls, settings: OperatorSettings, lister: Lister | None = None,
                      namespaces: Sequence[str] = ()) -> Mirror:
        """The operator's mirror: KUBETUNE_DATABASE_URL (else SQLite under KUBETUNE_STATE_DIR) and the mirror_*
        settings. ``namespaces``: those the operator watches (kopf patterns), empty for all."""
        return cls(resolve_url(settings.database_url, settings.state_dir), lister,
                   MirrorSettings.from_operator(settings, namespaces))

    @property
    def where(self) -> str:
        """The database, with its password hidden."""
        return redact(self.url)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the writer. Returns at once: connecting and migrating happen in the writer, with retries, so a
        database that is down never delays the operator's start."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="kubetune-mirror")

    async def stop(self, grace: float = 10.0) -> None:
        """Write what can be written within ``grace`` seconds, then stop."""
        if self._task is not None and not self._task.done() and not await self.flush(grace):
            log.warning("mirror stopped with %d records not written to %s", len(self._buffer), self.where)
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._engine is not None:
            await self._in_thread(self._engine.dispose)
        self._executor.shutdown(wait=False)

    async def flush(self, within: float | None = None) -> bool:
        """Wait until everything enqueued so far is committed; False if ``within`` seconds passed first."""
        async def drained() -> None:
            while len(self._buffer):
                self._idle.clear()
                self._wake.set()
                await self._idle.wait()

        try:
            await asyncio.wait_for(drained(), within)
            return True
        except TimeoutError:
            return False

    def request_relist(self) -> None:
        """Relist as soon as the writer is free (e.g. after the operator regained leadership)."""
        self._relist_due = self._lister is not None
        self._wake.set()

    # -- what the operator feeds it -----------------------------------------------------------------------------
    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A watch event of a mirrored kind (any other kind is ignored): upsert the object's row by uid, unless the
        row is already newer; ``DELETED`` also sets ``deleted_at``. ``event_type`` as kopf gives it (None for the
        initial listing, ADDED, MODIFIED, DELETED). The body is kept by reference until written: do not mutate it."""
        kind = body.get("kind")
        if kind not in CURRENT_STATE or not (body.get("metadata") or {}).get("uid"):
            return
        raw = body if isinstance(body, dict) else dict(body)  # a kopf Body view: its values are the raw dicts
        snapshot = Snapshot(str(kind), raw, deleted=event_type == "DELETED")
        if not self._buffer.add_snapshot(snapshot, time.monotonic()):
            self._dropped("snapshot")
            self._relist_due = self._lister is not None  # a relist recovers a dropped snapshot
        self._enqueued()

    def record_training_metrics(self, job_uid: str, points: Iterable[BaseModel | Mapping[str, Any]]) -> None:
        """Logged steps of a TrainingJob (``HistoryPoint``s from the trainer's /history, or their JSON). A step
        recorded again adds nothing: it only fills fields still empty (the evaluation logged after the loss)."""
        for point in points:
            self._history(MetricPoint.of(job_uid, point))

    def record_deployment(self, *, model_uid: str, namespace: str, model: str, target: str, pod: str,
                          action: Action, outcome: Outcome, occurred_at: datetime | None = None,
                          served_name: str | None = None, latency_ms: float | None = None,
                          message: str | None = None) -> None:
        """One load, unload or failed load of FineTunedModel ``model`` on ``pod`` of Deployment ``target``.
        (model_uid, pod, action, occurred_at) is its key: pass the time the outcome was known (now, by default)."""
        self._history(Deployment(model_uid=model_uid, namespace=namespace, model=model, target=target, pod=pod,
                                 action=action, outcome=outcome, occurred_at=occurred_at or datetime.now(UTC),
                                 served_name=served_name, latency_ms=latency_ms, message=message))

    def record_samples(self, comparison_uid: str, samples: Iterable[BaseModel | Mapping[str, Any]]) -> None:
        """Samples of a ModelComparison, each with its integer ``index``; a sample recorded again adds nothing."""
        for sample in samples:
            self._history(Sample.of(comparison_uid, sample))

    async def wait_ready(self) -> None:
        """Return once the database is reached and its schema is in place."""
        await self._ready.wait()

    async def last_training_step(self, job_uid: str, wait: float = 30.0) -> int | None:
        """The newest step of the job's loss curve the mirror has (written or waiting): fetch the trainer's history
        from there. Waits up to ``wait`` seconds for a database still connecting. None when it has none, or the
        database cannot say (then fetch from 0: replays add nothing)."""
        stored: int | None = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), wait)
        if self._engine is not None and self._ready.is_set():
            try:
                stored = await asyncio.wait_for(self._in_thread(self._last_step_sync, job_uid), wait)
            except (SQLAlchemyError, TimeoutError) as e:
                log.debug("mirror: last step of %s unknown: %s", job_uid, e)
        known = [s for s in [stored, *self._buffer.pending_steps(job_uid)] if s is not None]
        return max(known) if known else None

    # -- the writer --------------------------------------------------------------------------------------------
    def _history(self, record: HistoryRecord) -> None:
        if not self._buffer.add_history(record, time.monotonic()):
            self._dropped("history")
        self._enqueued()

    def _enqueued(self) -> None:
        self._idle.clear()
        self._wake.set()
        metrics.QUEUE_DEPTH.set(len(self._buffer))

    def _dropped(self, reason: str) -> None:
        self.stats.dropped += 1
        metrics.ROWS_DROPPED.labels(reason).inc()
        if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
            log.error("mirror buffer full (%d records): %d records dropped so far; raise KUBETUNE_MIRROR_QUEUE_BOUND "
                      "or bring %s back", self.settings.queue_bound, self.stats.dropped, self.where)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run(self) -> None:
        await self._connect()
        loop = asyncio.get_running_loop()
        self._next_relist = loop.time() + self.settings.relist_interval
        delay = RETRY_INITIAL
        while True:
            now = loop.time()
            if self.settings.relist_interval and now >= self._next_relist:
                self._relist_due = self._lister is not None
                self._next_relist = now + self.settings.relist_interval
            if self._relist_due and now >= self._relist_not_before and not await self._relist():
                delay = await self._backoff(delay)
                continue
            batch = self._buffer.peek(self.settings.batch_size)
            if not len(batch):
                self._idle.set()
                self._wake.clear()
                await self._sleep_until_woken(loop)
                continue
            if await self._write(batch):
                delay = RETRY_INITIAL
            else:
                delay = await self._backoff(delay)

    async def _sleep_until_woken(self, loop: asyncio.AbstractEventLoop) -> None:
        deadlines = []
        if self.settings.relist_interval:
            deadlines.append(self._next_relist)
        if self._relist_due:
            deadlines.append(self._relist_not_before)
        timeout = max(0.0, min(deadlines) - loop.time()) if deadlines else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        if self._wake.is_set():
            # The events of a moment (a burst of applies, a job's status changing three times as its pod starts)
            # are written together: one transaction, and one snapshot per object, instead of one per event.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), GATHER_SECONDS)

    async def _backoff(self, delay: float) -> float:
        # Jitter, so replicas or operators sharing a database do not retry in step.
        pause = delay * random.uniform(0.8, 1.2)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), pause)
        return min(RETRY_MAX, delay * 2)

    async def _connect(self) -> None:
        """Create the engine and bring the schema to this version (or check it is there), retrying until done."""
        delay = RETRY_INITIAL
        while True:
            try:
                if self._engine is None:
                    self._engine = await self._in_thread(make_engine, self.url)
                await self._in_thread(self._prepare_schema)
                self._ready.set()
                self._database_up()
                return
            except CONNECTIVITY as e:
                self._database_down(e)
            except (MigrationFailed, SQLAlchemyError) as e:
                log.error("mirror: %s; retrying", e)
            delay = await self._backoff(delay)

    def _prepare_schema(self) -> None:
        assert self._engine is not None
        if self.settings.migrate:
            upgrade(self.url, engine=self._engine)
            return
        found, wanted = current(self.url, engine=self._engine), head()
        if found != wanted:
            raise MigrationFailed(f"the schema of {self.where} is at version {found or 'none'}, this kubetune needs "
                                  f"{wanted}: run `kubetune db upgrade` (or set KUBETUNE_DATABASE_MIGRATE=true)")

    async def _write(self, batch: Batch) -> bool:
        started = time.perf_counter()
        try:
            counts = await self._in_thread(self._write_sync, batch)
        except CONNECTIVITY as e:
            self._database_down(e)
            return False
        except (SQLAlchemyError, MalformedObject, ValueError) as e:
            # Not the connection: some row is refused. Find it by writing one record at a time, drop only it.
            log.warning("mirror: a batch of %d was refused (%s); writing its records one by one", len(batch),
                        _reason(e))
            try:
                counts = await self._in_thread(self._write_one_by_one, batch)
            except CONNECTIVITY as e2:
                self._database_down(e2)
                return False
        metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
        self._committed(batch, counts)
        return True

    def _committed(self, batch: Batch, counts: dict[str, int]) -> None:
        committed = time.monotonic()
        for _, pending, _ in batch.snapshots:
            metrics.LAG_SECONDS.observe(committed - pending.enqueued)
        for pending in batch.history:
            metrics.LAG_SECONDS.observe(committed - pending.enqueued)
        self._buffer.remove(batch)
        self.stats.batches += 1
        metrics.QUEUE_DEPTH.set(len(self._buffer))
        for table, count in counts.items():
            if count:
                metrics.ROWS_WRITTEN.labels(table).inc(count)
                self.stats.written += count
        self._database_up()

    def _write_sync(self, batch: Batch) -> dict[str, int]:
        assert self._engine is not None
        now = datetime.now(UTC)
        snapshots = [written for _, _, written in batch.snapshots]
        with self._engine.begin() as connection:
            counts = _snapshot_counts(snapshots)
            if snapshots:
                upsert_snapshots(connection, snapshots, now)
            counts.update(insert_history(connection, [_history_record(p.record) for p in batch.history], now))
        return counts

    def _write_one_by_one(self, batch: Batch) -> dict[str, int]:
        totals: dict[str, int] = {}
        singles = [Batch(snapshots=[s]) for s in batch.snapshots] + [Batch(history=[h]) for h in batch.history]
        for single in singles:
            try:
                counts = self._write_sync(single)
            except CONNECTIVITY:
                raise
            except (SQLAlchemyError, MalformedObject, ValueError) as e:
                self.stats.rejected += 1
                self.stats.dropped += 1
                metrics.ROWS_DROPPED.labels("rejected").inc()
                log.error("mirror: %s refused by %s, dropped: %s", _describe(single), self.where, _reason(e))
                continue
            for table, count in counts.items():
                totals[table] = totals.get(table, 0) + count
        return totals

    async def _relist(self) -> bool:
        """List the cluster, upsert every object, tombstone rows of objects gone. False when the database failed
        (the caller backs off); a listing that fails is retried after LISTER_RETRY without backing off writes."""
        assert self._lister is not None
        loop = asyncio.get_running_loop()
        listed_since = datetime.now(UTC)
        try:
            listing = await self._lister()
        except Exception as e:  # the API server may be unreachable too; current rows just wait for the next try
            log.warning("mirror: relist failed (%s); retrying in %.0fs", e, LISTER_RETRY)
            metrics.RELISTS.labels("error").inc()
            self._relist_not_before = loop.time() + LISTER_RETRY
            return True
        try:
            counts = await self._in_thread(self._apply_listing, listing, listed_since)
        except CONNECTIVITY as e:
            self._database_down(e)
            return False
        except (SQLAlchemyError, MalformedObject, ValueError) as e:
            log.error("mirror: relist could not be written: %s", _reason(e))
            metrics.RELISTS.labels("error").inc()
            self._relist_not_before = loop.time() + LISTER_RETRY
            return True
        self._relist_due = False
        self.stats.relists += 1
        metrics.RELISTS.labels("ok").inc()
        for table, (written, tombstoned) in counts.items():
            if written:
                metrics.ROWS_WRITTEN.labels(table).inc(written)
                self.stats.written += written
            if tombstoned:
                metrics.TOMBSTONED.labels(table).inc(tombstoned)
                self.stats.tombstoned += tombstoned
                log.info("mirror: %d %s rows marked deleted (their objects are gone)", tombstoned, table)
        self._database_up()
        return True

    def _apply_listing(self, listing: Listing, listed_since: datetime) -> dict[str, tuple[int, int]]:
        assert self._engine is not None
        return apply_listing(self._engine, listing, listed_since, self.settings.batch_size, self.settings.namespaces)

    def _last_step_sync(self, job_uid: str) -> int | None:
        assert self._engine is not None
        with self._engine.connect() as connection:
            return last_step(connection, job_uid)

    def _database_down(self, error: BaseException) -> None:
        metrics.DATABASE_UP.set(0)
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.stats.outages += 1
            log.warning("mirror: database %s unreachable (%s); keeping %d records and retrying", self.where,
                        _reason(error), len(self._buffer))

    def _database_up(self) -> None:
        metrics.DATABASE_UP.set(1)
        if self._down_since is not None:
            log.warning("mirror: database %s back after %.1fs; writing %d held records and relisting", self.where,
                        time.monotonic() - self._down_since, len(self._buffer))
            self._down_since = None
            if self._ready.is_set():
                self.request_relist()


def apply_listing(engine: Engine, listing: Listing, listed_since: datetime, batch_size: int = 500,
                  namespaces: Sequence[str] = ()) -> dict[str, tuple[int, int]]:
    """Upsert every listed object and tombstone the rows of those gone; per table, (rows given, rows tombstoned).
    Shared by the Mirror's relists and ``kubetune db resync``."""
    counts: dict[str, tuple[int, int]] = {}
    for kind, bodies in listing.items():
        if kind not in CURRENT_STATE:
            continue
        snapshots = [Snapshot(kind, _with_kind(body, kind)) for body in bodies]
        snapshots = [s for s in snapshots if s.uid]
        for start in range(0, len(snapshots), batch_size):
            with engine.begin() as connection:
                upsert_snapshots(connection, snapshots[start:start + batch_size], datetime.now(UTC))
        with engine.begin() as connection:
            gone = tombstone_missing(connection, kind, {s.uid for s in snapshots}, listed_since, datetime.now(UTC),
                                     namespaces)
        counts[CURRENT_STATE[kind].__tablename__] = (len(snapshots), gone)  # type: ignore[attr-defined]
    return counts


def _history_record(record: Snapshot | HistoryRecord) -> HistoryRecord:
    assert not isinstance(record, Snapshot)
    return record


def _with_kind(body: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    # List responses may leave out each item's kind.
    return body if body.get("kind") == kind else {**body, "kind": kind}


def _snapshot_counts(snapshots: Sequence[Snapshot]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for snapshot in snapshots:
        table = CURRENT_STATE[snapshot.kind].__tablename__  # type: ignore[attr-defined]
        counts[table] = counts.get(table, 0) + 1
    return counts


def _describe(batch: Batch) -> str:
    for _, _, snapshot in batch.snapshots:
        meta = snapshot.body.get("metadata") or {}
        return f"{snapshot.kind} {meta.get('namespace')}/{meta.get('name')}"
    for pending in batch.history:
        record = pending.record
        return f"{type(record).__name__} {getattr(record, 'key', '')}"
    return "nothing"


def _reason(error: BaseException) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
