"""Down-sampling a long curve on the server, so a browser draws at most a few thousand points of a run with millions
of logged steps. Pure.

Min/max buckets (the M4 family, as Grafana and uPlot's examples do it): the steps are cut into buckets of equal width,
and each bucket keeps its lowest and highest point, in step order. A loss spike or a collapse survives however long
the run is, which an average or a stride would smooth away; the first and last points are always kept, so the curve
starts and ends where the run did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

MAX_POINTS = 2000


class Point(NamedTuple):
    """A tuple, not a dataclass: a long run has millions of them, and tuples are built several times faster."""

    step: int
    value: float


def min_max_buckets(points: Sequence[Point], max_points: int = MAX_POINTS) -> list[Point]:
    """At most ``max_points`` of ``points`` (sorted by step): all of them when they fit, else the lowest and highest
    point of each of ``max_points // 2`` buckets of equal step width, plus the first and the last point."""
    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    if len(points) <= max_points:
        return list(points)
    first, last = points[0], points[-1]
    inner = points[1:-1]
    buckets = (max_points - 2) // 2
    span = max(1, last.step - first.step)
    kept: list[Point] = [first]
    current: list[Point] = []
    bucket_of = 0

    def flush() -> None:
        if not current:
            return
        low = min(current, key=lambda p: p.value)
        high = max(current, key=lambda p: p.value)
        kept.extend(sorted({low.step: low, high.step: high}.values(), key=lambda p: p.step))
        current.clear()

    for point in inner:
        bucket = min(buckets - 1, (point.step - first.step) * buckets // span)
        if bucket != bucket_of:
            flush()
            bucket_of = bucket
        current.append(point)
    flush()
    kept.append(last)
    return kept
