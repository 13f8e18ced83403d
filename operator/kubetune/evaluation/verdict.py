"""The verdict rule (docs/evaluation.md), a pure function of the figures it reads.

1. Fewer than ``minSamples`` compared pairs: ``inconclusive`` (TooFewSamples).
2. With a judge: the Wilson 95% interval of the candidate's adjusted win rate lies wholly above 0.5: ``candidate``;
   wholly below: ``baseline``; else ``inconclusive`` (NoSignificantDifference).
3. Without a judge, with references: the paired bootstrap 95% interval of the primary reference metric's
   difference (candidate minus baseline) lies wholly above 0: ``candidate``; wholly below: ``baseline``; else
   ``inconclusive``.
4. Neither a judge nor references: ``inconclusive`` (NoQualitySignal).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetune.api.modelcomparison import Verdict, VerdictReason


@dataclass(frozen=True)
class VerdictInputs:
    n: int
    min_samples: int
    judged: bool
    win_rate: float | None
    win_rate_ci: tuple[float, float] | None
    primary_metric: str
    difference: float | None
    difference_ci: tuple[float, float] | None


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: VerdictReason
    message: str


def _interval(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def decide(inputs: VerdictInputs) -> Decision:
    if inputs.n < inputs.min_samples:
        return Decision("inconclusive", "TooFewSamples",
                        f"{inputs.n} pairs compared, fewer than minSamples {inputs.min_samples}")
    if inputs.judged and inputs.win_rate is not None and inputs.win_rate_ci is not None:
        low, high = inputs.win_rate_ci
        figures = f"judge win rate {inputs.win_rate:.3f}, 95% CI {_interval(inputs.win_rate_ci)}, n={inputs.n}"
        if low > 0.5:
            return Decision("candidate", "CandidateBetter", f"{figures}: wholly above 0.5")
        if high < 0.5:
            return Decision("baseline", "BaselineBetter", f"{figures}: wholly below 0.5")
        return Decision("inconclusive", "NoSignificantDifference", f"{figures}: contains 0.5")
    if inputs.difference is not None and inputs.difference_ci is not None:
        low, high = inputs.difference_ci
        figures = (f"{inputs.primary_metric} candidate minus baseline {inputs.difference:+.3f}, paired bootstrap 95% "
                   f"CI {_interval(inputs.difference_ci)}, n={inputs.n}")
        if low > 0:
            return Decision("candidate", "CandidateBetter", f"{figures}: wholly above 0")
        if high < 0:
            return Decision("baseline", "BaselineBetter", f"{figures}: wholly below 0")
        return Decision("inconclusive", "NoSignificantDifference", f"{figures}: contains 0")
    return Decision("inconclusive", "NoQualitySignal",
                    "no judge and no reference answers: nothing measures quality")
