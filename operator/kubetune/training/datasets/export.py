"""Export a Postgres query as a JSON Lines dataset (``kubetune dataset export``), in constant memory.

Rows stream through the server-side cursor ``fetch_size`` at a time; the next batch is fetched on a thread while this
one is formatted and written. Memory holds about three batches, whatever the result size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .mapping import RowBuilder
from .postgres import open_query, prefetched


@dataclass(frozen=True)
class ExportStats:
    rows: int
    seconds: float
    fields: tuple[str, ...]


def export_query(
    url: str,
    query: str,
    fmt: str,
    mapping: Mapping[str, str],
    out: TextIO,
    *,
    fetch_size: int = 5000,
    timeout_seconds: int = 300,
    on_rows: Callable[[int], None] | None = None,
) -> ExportStats:
    """Write every row of ``query`` to ``out`` as a line of ``fmt``; ``on_rows(n)`` is called after each batch."""
    start = time.monotonic()
    rows = 0
    with open_query(url, query, timeout_seconds=timeout_seconds, fetch_size=fetch_size) as result:
        builder = RowBuilder(fmt, mapping, result.columns)
        for batch in prefetched(result.batches):
            out.write(builder.lines(batch))
            out.write("\n")
            rows += len(batch)
            if on_rows is not None:
                on_rows(len(batch))
    return ExportStats(rows=rows, seconds=time.monotonic() - start, fields=builder.fields)


def export_to_file(
    url: str,
    query: str,
    fmt: str,
    mapping: Mapping[str, str],
    path: Path,
    *,
    fetch_size: int = 5000,
    timeout_seconds: int = 300,
    on_rows: Callable[[int], None] | None = None,
) -> ExportStats:
    """``export_query`` into ``path``, atomically: a failed export leaves no half-written dataset behind."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            stats = export_query(url, query, fmt, mapping, out, fetch_size=fetch_size,
                                 timeout_seconds=timeout_seconds, on_rows=on_rows)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return stats
