"""Where the mirror lives: the configured URL, else SQLite under the state directory; psycopg 3 for Postgres; and a
password that never shows."""

from __future__ import annotations

import pytest

from kubetune.store.database import parse_url, redact, resolve_url
from kubetune.store.errors import InvalidDatabaseUrl


def test_embedded_sqlite_under_the_state_directory() -> None:
    assert resolve_url("", "/var/lib/kubetune") == "sqlite:////var/lib/kubetune/kubetune.db"
    assert resolve_url("", "", {"XDG_STATE_HOME": "/srv/state"}) == "sqlite:////srv/state/kubetune/kubetune.db"
    assert resolve_url("", "", {"HOME": "/home/ml"}) == "sqlite:////home/ml/.local/state/kubetune/kubetune.db"
    assert resolve_url(" postgresql://db/mirror ", "/ignored") == "postgresql://db/mirror"


def test_postgres_is_driven_by_psycopg3() -> None:
    assert parse_url("postgresql://u:p@db:5432/mirror").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@db/mirror").drivername == "postgresql+psycopg"
    assert parse_url("sqlite:///x.db").drivername == "sqlite"


@pytest.mark.parametrize("url", ["mysql://u:hunter2@db/x", "postgresql://u:hunter2@db:notaport/x"])
def test_unusable_urls_are_refused_without_the_password(url: str) -> None:
    with pytest.raises(InvalidDatabaseUrl) as refused:
        parse_url(url)
    assert "hunter2" not in str(refused.value)


def test_redaction_hides_the_password() -> None:
    assert redact("postgresql://kubetune:hunter2@db:5432/mirror") == "postgresql://kubetune:***@db:5432/mirror"
    assert "hunter2" not in redact("postgresql+psycopg://a:hunter2@db/x?sslmode=require")
    assert redact("sqlite:////var/lib/kubetune/kubetune.db") == "sqlite:////var/lib/kubetune/kubetune.db"
