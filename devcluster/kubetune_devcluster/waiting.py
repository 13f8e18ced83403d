"""Polling with a deadline, for tests, benchmarks and the demo (the operator itself is driven by watches)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold in time; the message says what was awaited and the last value seen."""


def wait_for(check: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.1, what: str = "condition") -> T:
    """Call ``check`` until it returns a truthy value and return that value; exceptions count as not yet."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except Exception as e:
            last = e
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
