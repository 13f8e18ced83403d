"""Schema migrations: upgrade a database to the newest version, read its current version.

On Postgres the upgrade runs in one transaction under an advisory lock, so operator replicas starting together (and a
``kubetune db upgrade`` run beside them) migrate one at a time; the second finds the work done. Postgres runs DDL in
transactions, so a failed upgrade leaves the schema as it was.
"""

from __future__ import annotations

import logging
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from .database import make_engine, redact
from .errors import DatabaseUnavailable, MigrationFailed

log = logging.getLogger(__name__)

# pg_advisory_xact_lock's key: any fixed 64-bit number that no other application on the database uses.
MIGRATION_LOCK = 0x6B75_6265_7475_6E65  # "kubetune"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("kubetune.store") / "migrations"))
    return config


def head() -> str:
    """The newest schema version this kubetune ships."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def _upgrade_on(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def upgrade(url: str, revision: str = "head", engine: Engine | None = None) -> str:
    """Upgrade the database at ``url`` to ``revision``; return the version it is at afterwards."""
    owned = engine is None
    engine = engine or make_engine(url)
    try:
        with engine.begin() as connection:
            _upgrade_on(connection, revision)
        with engine.connect() as connection:
            version = MigrationContext.configure(connection).get_current_revision()
        log.info("mirror schema at version %s in %s", version, redact(url))
        return version or ""
    except OperationalError as e:
        raise DatabaseUnavailable(f"cannot reach {redact(url)}: {_reason(e)}") from e
    except (SQLAlchemyError, ValueError) as e:
        raise MigrationFailed(f"upgrading {redact(url)} failed: {_reason(e)}") from e
    finally:
        if owned:
            engine.dispose()


def current(url: str, engine: Engine | None = None) -> str | None:
    """The database's schema version; None for an empty database."""
    owned = engine is None
    engine = engine or make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as e:
        raise DatabaseUnavailable(f"cannot reach {redact(url)}: {_reason(e)}") from e
    except SQLAlchemyError as e:
        raise MigrationFailed(f"reading the schema version of {redact(url)} failed: {_reason(e)}") from e
    finally:
        if owned:
            engine.dispose()


def _reason(error: Exception) -> str:
    """The driver's own first line: SQLAlchemy's message adds the statement, which says nothing to an operator."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
