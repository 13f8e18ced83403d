"""Wilson interval, paired bootstrap and percentiles."""

from __future__ import annotations

import numpy as np
import pytest

from kubetune.evaluation.statistics import paired_bootstrap, percentiles, wilson_interval


def test_wilson_matches_the_closed_form() -> None:
    # Wilson (1927): centre (p + z²/2n) / (1 + z²/n), half-width z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
    z, n, p = 1.959963984540054, 200, 0.64
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = wilson_interval(128, 200)
    assert (low, high) == pytest.approx((centre - half, centre + half))


def test_wilson_takes_half_counts_from_ties() -> None:
    low, high = wilson_interval(10 + 5 / 2, 20)  # 10 wins, 5 ties, 5 losses
    assert low < 12.5 / 20 < high
    assert wilson_interval(12.5, 20) != wilson_interval(12, 20)


def test_an_even_split_contains_one_half_and_a_sweep_excludes_it() -> None:
    assert wilson_interval(15, 30)[0] < 0.5 < wilson_interval(15, 30)[1]
    assert wilson_interval(30, 30)[0] > 0.5
    assert wilson_interval(0, 30)[1] < 0.5


def test_bootstrap_interval_brackets_the_mean_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    differences = list(rng.normal(0.3, 1.0, 200))
    mean, low, high = paired_bootstrap(differences, 2000, seed=7)  # type: ignore[misc]
    assert low < mean < high and mean == pytest.approx(np.mean(differences))
    # Close to the normal approximation mean ± 1.96 sd/sqrt(n).
    se = np.std(differences, ddof=1) / np.sqrt(200)
    assert low == pytest.approx(mean - 1.96 * se, abs=0.05) and high == pytest.approx(mean + 1.96 * se, abs=0.05)
    assert paired_bootstrap(differences, 2000, seed=7) == (mean, low, high)


def test_bootstrap_of_constant_differences_is_that_constant() -> None:
    assert paired_bootstrap([1.0] * 20, 1000, seed=0) == (1.0, 1.0, 1.0)
    assert paired_bootstrap([0.0] * 20, 1000, seed=0) == (0.0, 0.0, 0.0)


def test_bootstrap_needs_two_pairs() -> None:
    assert paired_bootstrap([0.5], 1000, seed=0) is None
    assert paired_bootstrap([], 1000, seed=0) is None


def test_percentiles_as_vllm_bench_serve() -> None:
    values = [float(v) for v in range(1, 101)]
    figures = percentiles(values)
    assert figures == pytest.approx({"mean": 50.5, "p50": 50.5, "p95": 95.05, "p99": 99.01})
    assert percentiles([]) is None
