"""Read-only access to the mirror: an engine that cannot write, queries run off the event loop, and what went wrong
told by meaning (the database is down; it has no tables yet).

Read-only three times over: SQLite is opened with ``mode=ro`` and ``PRAGMA query_only``; PostgreSQL sessions start with
``default_transaction_read_only=on``; and docs/dashboard.md gives the dashboard a role with SELECT only. A missing
SQLite file is "nothing mirrored yet" (SchemaMissing), never created: the operator creates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError, SQLAlchemyError

from ..store.database import parse_url, redact

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECT_TIMEOUT = 3  # seconds: a page must say "down" quickly, not hang
STATEMENT_TIMEOUT_MS = 10_000


class DatabaseDown(Exception):
    """The mirror could not be read: unreachable, refusing, or (SQLite) not created yet. The message is redacted."""


class SchemaMissing(Exception):
    """The database answers but has no mirror tables yet (the operator has not migrated it): an empty dashboard."""


@dataclass(frozen=True)
class Health:
    up: bool
    where: str
    message: str = ""
    checked_at: float = 0.0


class ReadOnlyDatabase:
    """The mirror, for reading. ``await read(fn)`` runs ``fn(connection)`` in a worker thread inside one read-only
    transaction; errors come out as DatabaseDown or SchemaMissing."""

    def __init__(self, url: str, workers: int = 4) -> None:
        self.url = url
        self.where = redact(url)
        self._parsed = parse_url(url)
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kubetune-dashboard-db")
        self.health = Health(up=True, where=self.where)

    @property
    def is_sqlite(self) -> bool:
        return self._parsed.get_backend_name() == "sqlite"

    def _sqlite_path(self) -> Path:
        return Path(self._parsed.database or "").expanduser()

    def _make_engine(self) -> Engine:
        if self.is_sqlite:
            path = self._sqlite_path()

            def connect() -> sqlite3.Connection:
                if not path.is_file():  # not written yet: an empty dashboard, not an outage
                    raise SchemaMissing(f"no mirror database at {path} yet: the operator creates it when it starts")
                # mode=ro: this process can never write the file; WAL lets it read while the operator writes.
                connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=CONNECT_TIMEOUT,
                                             check_same_thread=False)
                connection.execute("PRAGMA query_only=ON")
                return connection

            return create_engine("sqlite://", creator=connect, hide_parameters=True)
        engine = create_engine(
            self._parsed, hide_parameters=True, pool_pre_ping=True, pool_size=4, max_overflow=4,
            connect_args={"connect_timeout": CONNECT_TIMEOUT, "application_name": "kubetune-dashboard",
                          "options": "-c default_transaction_read_only=on "
                                     f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"})
        return engine

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._make_engine()
            return self._engine

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        try:
            with self.engine().connect() as connection:
                result = fn(connection)
                connection.rollback()
        except SchemaMissing:
            self._up()
            raise
        except DatabaseDown as e:
            self._down(str(e))
            raise
        except (ProgrammingError, OperationalError) as e:
            if _no_such_table(e):
                self._up()
                raise SchemaMissing(f"{self.where} has no mirror tables yet") from e
            self._down(_first_line(e))
            raise DatabaseDown(f"cannot read {self.where}: {_first_line(e)}") from e
        except SQLAlchemyError as e:
            self._down(_first_line(e))
            raise DatabaseDown(f"cannot read {self.where}: {_first_line(e)}") from e
        self._up()
        return result

    async def read(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.read_sync, fn)

    async def ping(self) -> Health:
        """Check the database answers (and has the mirror's tables); the result is also kept in ``health``."""
        with contextlib.suppress(DatabaseDown, SchemaMissing):
            await self.read(lambda c: c.execute(text("select count(*) from training_jobs")).scalar())
        return self.health

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._executor.shutdown(wait=False)

    def _up(self) -> None:
        if not self.health.up:
            log.info("database %s answers again", self.where)
        self.health = Health(up=True, where=self.where, checked_at=time.time())

    def _down(self, message: str) -> None:
        if self.health.up:
            log.warning("database %s is down: %s", self.where, message)
        self.health = Health(up=False, where=self.where, message=redact_text(message, self.url),
                             checked_at=time.time())


def _no_such_table(error: DBAPIError) -> bool:
    message = str(error.orig if error.orig is not None else error).lower()
    return "no such table" in message or ("relation" in message and "does not exist" in message)


def _first_line(error: Exception) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def redact_text(message: str, url: str) -> str:
    """A driver's message with the URL's password taken out, should a driver ever repeat it."""
    password = parse_url(url).password
    return message.replace(str(password), "***") if password else message
