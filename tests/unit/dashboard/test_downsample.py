"""Long curves are cut to at most 2,000 points on the server, keeping every spike, the first and the last step."""

from __future__ import annotations

import math

import pytest

from kubetune.dashboard.downsample import MAX_POINTS, Point, min_max_buckets


def curve(n: int) -> list[Point]:
    return [Point(step, math.sin(step / 50) + step / 1000) for step in range(1, n + 1)]


def test_short_curves_are_kept_whole() -> None:
    points = curve(MAX_POINTS)
    assert min_max_buckets(points) == points


@pytest.mark.parametrize("n", [2001, 10_000, 1_000_000])
def test_long_curves_fit_in_the_budget_in_step_order_with_both_ends(n: int) -> None:
    points = curve(n)
    kept = min_max_buckets(points)
    assert len(kept) <= MAX_POINTS
    assert kept[0] == points[0] and kept[-1] == points[-1]
    steps = [p.step for p in kept]
    assert steps == sorted(set(steps))
    assert set(kept) <= set(points)


def test_a_one_step_spike_and_dip_survive() -> None:
    points = [Point(s, 1.0) for s in range(1, 100_001)]
    points[61_234] = Point(61_235, 50.0)
    points[7_000] = Point(7_001, -3.0)
    kept = min_max_buckets(points, 500)
    assert Point(61_235, 50.0) in kept and Point(7_001, -3.0) in kept


def test_every_bucket_keeps_its_extremes() -> None:
    points = curve(50_000)
    kept = set(min_max_buckets(points, 1000))
    buckets = 499
    span = points[-1].step - points[0].step
    for b in (0, 137, 498):
        inside = [p for p in points[1:-1] if min(buckets - 1, (p.step - 1) * buckets // span) == b]
        assert min(inside, key=lambda p: p.value) in kept and max(inside, key=lambda p: p.value) in kept


def test_a_budget_below_four_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        min_max_buckets(curve(10), 3)
