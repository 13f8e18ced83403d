"""Alembic's environment: run migrations on the connection ``kubetune.store.migrate`` passes in (or, for a developer
running ``alembic`` by hand, on ``sqlalchemy.url``). SQLite gets batch mode: it cannot ALTER most of a table, so
Alembic recreates the table instead."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from kubetune.store.database import make_engine
from kubetune.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        run_on(connection)
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
