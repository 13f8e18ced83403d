"""The migrations build exactly the schema the models declare, on Postgres and SQLite; upgrading is repeatable, and
replicas upgrading at once on Postgres wait for each other (advisory lock)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from kubetune.store import current, head, upgrade
from kubetune.store.database import make_engine
from kubetune.store.tables import Base

TABLES = {"training_jobs", "training_metrics", "fine_tuned_models", "deployment_history", "model_comparisons",
          "comparison_samples"}


def test_an_empty_database_migrates_to_the_models(store_url: str) -> None:
    assert current(store_url) is None
    assert upgrade(store_url) == head() == current(store_url)
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert set(inspect(connection).get_table_names()) >= TABLES
            if connection.dialect.name == "postgresql":  # JSON stored as JSON: JSONB on Postgres
                types = {c["name"]: str(c["type"]) for c in inspect(connection).get_columns("training_jobs")}
                assert types["spec"] == "JSONB" and types["status"] == "JSONB"
    finally:
        engine.dispose()
    assert upgrade(store_url) == head()  # again: nothing to do


def test_concurrent_upgrades_take_turns(database: str) -> None:
    # Three "replicas" starting together: without the lock two would both try to create the tables and one fail.
    with ThreadPoolExecutor(3) as pool:
        versions = list(pool.map(lambda _: upgrade(database), range(3)))
    assert versions == [head()] * 3
