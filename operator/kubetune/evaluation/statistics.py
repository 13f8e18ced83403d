"""The statistics the verdict rests on: the Wilson interval of a win rate (statsmodels, which accepts the half
counts ties add), the paired bootstrap interval of a mean difference (scipy), and percentiles as
``vllm bench serve`` computes them (numpy's linear interpolation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95


def wilson_interval(count: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of ``count / n``; ``count`` may be fractional (wins + ties / 2)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def paired_bootstrap(differences: Sequence[float], resamples: int, seed: int,
                     confidence: float = CONFIDENCE) -> tuple[float, float, float] | None:
    """``(mean, low, high)``: the mean of the per-prompt differences and its percentile bootstrap interval, the
    prompts resampled with replacement (lm-evaluation-harness's paired comparison; Arena-Hard's CIs). None below two
    pairs. When every difference is the same the interval is that value: no resample can differ."""
    values = np.asarray(differences, dtype=float)
    if len(values) < 2:
        return None
    mean = float(values.mean())
    if np.all(values == values[0]):
        return mean, mean, mean
    from scipy.stats import bootstrap

    result = bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
                       vectorized=True, rng=np.random.default_rng(seed))
    return mean, float(result.confidence_interval.low), float(result.confidence_interval.high)


def percentiles(values: Sequence[float], points: Sequence[float] = (50, 95, 99)) -> dict[str, float] | None:
    """``{"mean", "p50", "p95", "p99"}``, or None without values."""
    if not len(values):
        return None
    array = np.asarray(values, dtype=float)
    out = {"mean": float(array.mean())}
    for point, value in zip(points, np.percentile(array, points), strict=True):
        out[f"p{point:g}"] = float(value)
    return out
