"""Small shared pieces of the queries: times as aware UTC datetimes (SQLite gives them back naive), JSON maps that may
be NULL, and the phases that count as still going."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

Json = dict[str, Any]
ACTIVE_TRAINING = ("Pending", "Validating", "Queued", "Running", "Suspended")
SERVING = ("Deploying", "Serving", "Degraded")


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def mapping(value: Any) -> Json:
    return dict(value) if isinstance(value, dict) else {}


def get(node: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def session_on(connection: Connection) -> Session:
    """An ORM session over the read's own connection (and its read-only transaction)."""
    return Session(bind=connection, autoflush=False, expire_on_commit=False)
