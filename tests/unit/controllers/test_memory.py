"""The operator's start-up objects are frozen out of the garbage collector's reach, so the full collections a burst
sets off walk only what the operator made since (each one stopped the event loop for 100-200 ms before)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
import kubetune.controllers  # what `kubetune operator` imports before its handlers run
from kubetune.controllers.memory import freeze_startup_objects
before = len(gc.get_objects())
freeze_startup_objects()
print(before, gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_startup_objects_are_frozen() -> None:
    # A fresh interpreter: freezing the test runner's own objects would change every later test's collections.
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True).stdout
    before, frozen, walked = (int(n) for n in out.split())
    assert before > 50_000  # kopf, pydantic, SQLAlchemy, aiohttp...
    assert frozen >= before * 0.9
    assert walked < 1_000  # what a full collection still walks
