"""``kubetune db resync``: rebuild the current-state tables from the cluster. Every object listed is upserted (the
staleness guard keeps rows the operator wrote from something newer), and rows of objects the cluster no longer has
are marked deleted. History tables are left alone: the cluster does not keep history."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..kube import KubeClient
from .database import make_engine, redact
from .errors import DatabaseUnavailable, MigrationFailed, StoreError
from .listing import cluster_lister
from .migrate import current, head
from .mirror import apply_listing


async def resync(url: str, client: KubeClient, namespaces: Sequence[str] = ()) -> dict[str, tuple[int, int]]:
    """Per table: (objects listed, rows marked deleted). Raises DatabaseUnavailable, MigrationFailed (the schema is
    not at this version), StoreError, or the client's ApiError."""
    engine = await asyncio.to_thread(make_engine, url)
    try:
        found = await asyncio.to_thread(current, url, engine)
        if found != head():
            raise MigrationFailed(f"the schema of {redact(url)} is at version {found or 'none'}, this kubetune needs "
                                  f"{head()}: run `kubetune db upgrade` first")
        listed_since = datetime.now(UTC)
        listing = await cluster_lister(client, namespaces)()
        try:
            return await asyncio.to_thread(apply_listing, engine, listing, listed_since, 500, namespaces)
        except OperationalError as e:
            raise DatabaseUnavailable(f"cannot write to {redact(url)}: {str(e.orig).splitlines()[0]}") from e
        except SQLAlchemyError as e:
            raise StoreError(f"writing to {redact(url)} failed: {type(e).__name__}") from e
    finally:
        await asyncio.to_thread(engine.dispose)
