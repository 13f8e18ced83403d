"""The mirror's integration tests run each case on a real Postgres (the session server, a database per test) and on
a real SQLite file."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from kubetune.store import Mirror, MirrorSettings, upgrade
from kubetune.store.database import make_engine

_uids = itertools.count(1)


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


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql), params).all())


def trainingjob(name: str, version: str, phase: str | None = None, uid: str | None = None,
                namespace: str = "ml", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": namespace, "uid": uid or f"uid-{name}", "resourceVersion": version,
                     "creationTimestamp": "2026-04-30T10:00:00Z"},
        "spec": {"baseModel": {"name": "tiny-llama"}, "output": {"modelName": name}},
        "status": {"phase": phase, **status} if phase else {},
    }


def next_uid(prefix: str) -> str:
    return f"{prefix}-{next(_uids)}"
