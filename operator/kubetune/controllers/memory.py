"""The operator's memory: freed heap given back to the system after bursts, and the garbage collector kept off the
objects that live as long as the process.

CPython frees objects but glibc keeps the pages, so without trimming the operator's RSS stays at the high-water mark of
its busiest minute (listing every object after a restart, a burst of applies) rather than following what it holds.

A full collection walks every tracked object, and after start-up the operator holds some hundreds of thousands of them
(kopf, pydantic's schemas, SQLAlchemy and Alembic, prometheus): each one stopped the event loop for 100-200 ms, and a
burst of applies triggers several. Once start-up is done those objects are frozen (``gc.freeze``), so collections walk
only what the operator made since; Instagram's web servers do the same.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)
TRIM_INTERVAL = 10.0


def freeze_startup_objects() -> None:
    """Collect start-up's garbage, then move every object alive now out of the collector's reach."""
    gc.collect()
    gc.freeze()
    log.debug("garbage collector: %d objects frozen", gc.get_freeze_count())


def _trim() -> None:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    libc = ctypes.CDLL(libc_name)
    if hasattr(libc, "malloc_trim"):  # glibc only; musl and macOS have no arenas to trim
        libc.malloc_trim(0)


async def trim_periodically(interval: float = TRIM_INTERVAL) -> None:
    while True:
        await asyncio.sleep(interval)
        _trim()
