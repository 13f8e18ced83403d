"""The verdict rule of docs/evaluation.md."""

from __future__ import annotations

import pytest

from kubetune.evaluation.verdict import VerdictInputs, decide


def inputs(**changes: object) -> VerdictInputs:
    base: dict[str, object] = dict(n=100, min_samples=30, judged=False, win_rate=None, win_rate_ci=None,
                                   primary_metric="tokenF1", difference=None, difference_ci=None)
    return VerdictInputs(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(("ci", "verdict", "reason"), [
    ((0.55, 0.70), "candidate", "CandidateBetter"),
    ((0.30, 0.45), "baseline", "BaselineBetter"),
    ((0.45, 0.60), "inconclusive", "NoSignificantDifference"),
    ((0.50, 0.60), "inconclusive", "NoSignificantDifference"),  # touching 0.5 is not wholly above
])
def test_with_a_judge_the_wilson_interval_decides(ci: tuple[float, float], verdict: str, reason: str) -> None:
    decision = decide(inputs(judged=True, win_rate=sum(ci) / 2, win_rate_ci=ci,
                             difference=-0.5, difference_ci=(-0.6, -0.4)))  # references are not consulted
    assert (decision.verdict, decision.reason) == (verdict, reason)
    assert "n=100" in decision.message


@pytest.mark.parametrize(("ci", "verdict"), [
    ((0.1, 0.3), "candidate"), ((-0.3, -0.1), "baseline"), ((-0.1, 0.2), "inconclusive"), ((0.0, 0.0), "inconclusive"),
])
def test_without_a_judge_the_primary_metric_difference_decides(ci: tuple[float, float], verdict: str) -> None:
    decision = decide(inputs(difference=sum(ci) / 2, difference_ci=ci))
    assert decision.verdict == verdict
    assert "tokenF1" in decision.message


def test_too_few_samples_is_inconclusive_whatever_the_intervals() -> None:
    decision = decide(inputs(n=29, judged=True, win_rate=1.0, win_rate_ci=(0.9, 1.0)))
    assert (decision.verdict, decision.reason) == ("inconclusive", "TooFewSamples")
    assert "29" in decision.message and "30" in decision.message


def test_no_judge_and_no_references_is_no_signal() -> None:
    assert decide(inputs()).reason == "NoQualitySignal"
