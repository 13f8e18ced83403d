"""Run a user's query against their database safely and stream the result.

The query runs in a READ ONLY transaction (a query that writes fails), with ``SET LOCAL statement_timeout`` (each
statement, including every FETCH, is bounded), through a server-side cursor (psycopg's named cursor), so memory stays
flat whatever the result size. The database URL is never logged, and every error message is redacted with it
(libpq quotes a connection string it cannot parse, password included).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from kubetune.redaction import connection_secrets, redact
from kubetune.training.errors import DatasetInvalid, DatasetUnavailable

log = logging.getLogger(__name__)

Batch = list[tuple[Any, ...]]


@dataclass
class QueryResult:
    """An open result: its column names and its rows, ``fetch_size`` at a time."""

    columns: list[str]
    batches: Iterator[Batch]


@contextmanager
def open_query(url: str, query: str, *, timeout_seconds: int, fetch_size: int) -> Iterator[QueryResult]:
    """Open ``query`` read-only, with a statement timeout, on a server-side cursor."""
    secrets = connection_secrets(url)
    try:
        conn = psycopg.connect(url, application_name="kubetune-dataset", connect_timeout=30)
    except psycopg.Error as e:
        # Not chained: libpq's own message may quote the URL, and a printed traceback would show it.
        raise DatasetUnavailable(f"cannot connect to the dataset database: {_first_line(e, secrets)}") from None
    try:
        conn.read_only = True
        with conn.transaction():
            # set_config(..., true) is SET LOCAL with a bind parameter: it ends with the transaction.
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{timeout_seconds}s",))
            with conn.cursor(name="kubetune_dataset") as cursor:
                try:
                    cursor.execute(query)
                except psycopg.Error as e:
                    raise _query_error(e, timeout_seconds, secrets) from e
                columns = [c.name for c in cursor.description or []]
                yield QueryResult(columns, _batches(cursor, fetch_size, timeout_seconds, secrets))
    except psycopg.Error as e:
        raise _query_error(e, timeout_seconds, secrets) from e
    finally:
        conn.close()


def _batches(cursor: psycopg.ServerCursor[Any], fetch_size: int, timeout_seconds: int,
             secrets: frozenset[str]) -> Iterator[Batch]:
    while True:
        try:
            batch = cursor.fetchmany(fetch_size)
        except psycopg.Error as e:
            raise _query_error(e, timeout_seconds, secrets) from e
        if not batch:
            return
        yield batch


def prefetched(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """Fetch the next batches on a thread while the caller works on this one.

    The fetch waits on the network with the GIL released, so formatting and fetching overlap: this is most of what
    lets the export run at the speed of ``psql \\copy``.
    """
    done = object()
    pipe: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        pipe.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pipe.put(done)
        except BaseException as e:  # handed to the consumer, which re-raises it
            pipe.put(e)

    thread = threading.Thread(target=produce, name="kubetune-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = pipe.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _query_error(e: psycopg.Error, timeout_seconds: int, secrets: frozenset[str]) -> Exception:
    """Errors by meaning: a query that is wrong fails the job; one that could succeed later is retried."""
    if isinstance(e, pg_errors.QueryCanceled):
        return DatasetUnavailable(f"the dataset query ran past statementTimeoutSeconds ({timeout_seconds}s)")
    if isinstance(e, pg_errors.ReadOnlySqlTransaction):
        return DatasetInvalid(f"the dataset query must only read; it tried to write: {_first_line(e, secrets)}")
    if isinstance(e, psycopg.OperationalError | pg_errors.AdminShutdown | pg_errors.CannotConnectNow):
        return DatasetUnavailable(f"the dataset database failed: {_first_line(e, secrets)}")
    if isinstance(e, psycopg.ProgrammingError | psycopg.DataError | psycopg.IntegrityError | psycopg.InternalError
                  | psycopg.NotSupportedError):
        return DatasetInvalid(f"the dataset query failed: {_first_line(e, secrets)}")
    return DatasetUnavailable(f"the dataset query failed: {_first_line(e, secrets)}")


def _first_line(e: BaseException, secrets: frozenset[str]) -> str:
    return redact((str(e).strip().splitlines() or [type(e).__name__])[0], *secrets)
