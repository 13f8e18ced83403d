"""Where the mirror lives and how to reach it: the URL (KUBETUNE_DATABASE_URL, else an embedded SQLite file), its
redacted form for messages, and the engine.

``postgresql://`` URLs are driven by psycopg 3; ``sqlite:///path`` by the standard library. A password never leaves
this module except inside the engine: every message shows ``redact(url)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import InvalidDatabaseUrl

SQLITE_FILE = "kubetune.db"
CONNECT_TIMEOUT = 5  # seconds: a database that is down must fail fast, the writer retries with backoff


def default_state_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "kubetune"


def resolve_url(database_url: str, state_dir: str = "", environ: dict[str, str] | None = None) -> str:
    """The configured URL, or the embedded SQLite file under the state directory."""
    if database_url.strip():
        return database_url.strip()
    directory = Path(state_dir) if state_dir else default_state_dir(environ)
    return f"sqlite:///{directory / SQLITE_FILE}"


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL, with psycopg 3 as the Postgres driver. Raises InvalidDatabaseUrl (redacted)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as e:  # ValueError: a port that is not a number
        raise InvalidDatabaseUrl(f"not a database URL: {redact(url)}") from e
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise InvalidDatabaseUrl(f"unsupported database {backend!r} in {redact(url)}: use postgresql:// or sqlite:///")


def redact(url: str | URL) -> str:
    """The URL with its password hidden, for logs and errors."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        # Not parseable: hide everything between the scheme and the last @, where a password would be.
        text = str(url)
        if "@" in text and "://" in text:
            scheme, rest = text.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return text
    return parsed.render_as_string(hide_password=True)


def is_postgres(url: str | URL) -> bool:
    parsed = url if isinstance(url, URL) else parse_url(url)
    return parsed.get_backend_name() == "postgresql"


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for the mirror: statements' parameters are never put into error messages (they hold row data);
    stale connections are replaced after an outage; SQLite runs in WAL mode, so readers (a dashboard, ``kubetune db``)
    do not block the writer."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, hide_parameters=True, connect_args={"timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, hide_parameters=True, pool_pre_ping=True, pool_size=2, max_overflow=2,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT, "application_name": "kubetune"},
                         **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe in WAL mode; a commit need not wait for fsync of the WAL
    cursor.close()
