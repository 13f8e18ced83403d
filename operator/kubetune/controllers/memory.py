"""Give freed heap back to the system after bursts. CPython frees objects but glibc keeps the pages, so without this
the operator's RSS stays at the high-water mark of its busiest minute (listing every object after a restart, a burst
of applies) rather than following what it holds."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util

TRIM_INTERVAL = 10.0


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
