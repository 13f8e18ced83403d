"""The mirror's integration tests run each case on a real Postgres (the session server, a database per test) and on
a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kubetune.store import Mirror, MirrorSettings, upgrade
from kubetune.store.database import make_engine


@pytest.fixture(params=["postgres", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a fresh Postgres database, or a new SQLite file."""
    if request.param == "postgres":
        return str(request.getfixturevalue("database"))
    return f"sqlite:///{tmp_path / 'mirror.db'}"


@pytest.fixture
def migrated(store_url: str) -> str:
    upgrade(store_url)
    return store_url


@pytest.fixture
def engine(migrated: str) -> Iterator[Engine]:
    engine = make_engine(migrated)
    yield engine
    engine.dispose()


@pytest.fixture
async def mirror(migrated: str) -> AsyncIterator[Mirror]:
    """A started mirror without a lister (no relists)."""
    mirror = Mirror(migrated, None, MirrorSettings(relist_interval=0))
    await mirror.start()
    yield mirror
    await mirror.stop()
    assert mirror.stats.dropped == 0
