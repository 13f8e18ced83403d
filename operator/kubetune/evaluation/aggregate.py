"""Samples -> ``ModelComparison.status.results``: serving metrics per model, reference metrics, paired differences,
the win rate, the judge's consistency, the answer-length ratio and the verdict.

It reads the sample records (the same dicts the samples file holds), so a resumed run aggregates what earlier pods
measured exactly as if one pod had done it all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from kubetune.api.evaluator import VerdictRule
from kubetune.api.modelcomparison import (
    Difference,
    Differences,
    JudgeResults,
    ModelResults,
    Percentiles,
    Results,
    WinRate,
)

from .statistics import paired_bootstrap, percentiles, wilson_interval
from .verdict import VerdictInputs, decide

Record = dict[str, Any]
ROLES = ("baseline", "candidate")
REFERENCE_METRICS = ("exactMatch", "tokenF1", "rougeL")
DIGITS = 4  # results are read by people and kept in a 4 KB termination message


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def _percentiles(values: Sequence[float]) -> Percentiles | None:
    figures = percentiles(values)
    return Percentiles(**{k: _round(v) for k, v in figures.items()}) if figures else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def active_seconds(records: Sequence[Record]) -> float:
    """The evaluation's duration: per pod attempt, last answer's end minus first answer's send, summed (a killed
    pod's downtime does not count against throughput)."""
    spans: dict[int, list[float]] = defaultdict(lambda: [float("inf"), float("-inf")])
    for record in records:
        for role in ROLES:
            answer = record[role]
            if answer.get("sentAt") is not None and answer.get("endedAt") is not None:
                span = spans[int(record.get("attempt", 1))]
                span[0] = min(span[0], answer["sentAt"])
                span[1] = max(span[1], answer["endedAt"])
    return sum(max(0.0, end - start) for start, end in spans.values())


def model_results(records: Sequence[Record], role: str, seconds: float) -> ModelResults:
    answers = [r[role] for r in records]
    ok = [a for a in answers if a.get("error") is None]
    tokens = [a["outputTokens"] for a in ok if a.get("outputTokens") is not None]
    scored = [a for a in ok if "exactMatch" in a]
    return ModelResults(
        completed=len(ok),
        errors=len(answers) - len(ok),
        ttft_ms=_percentiles([a["ttftMs"] for a in ok]),
        tpot_ms=_percentiles([a["tpotMs"] for a in ok if a.get("tpotMs") is not None]),
        itl_ms=_percentiles([gap for a in ok for gap in a.get("itlMs") or ()]),
        latency_ms=_percentiles([a["latencyMs"] for a in ok]),
        output_tokens_per_second=_round(sum(tokens) / seconds) if seconds > 0 else None,
        requests_per_second=_round(len(ok) / seconds) if seconds > 0 else None,
        mean_output_tokens=_round(_mean(tokens)),
        exact_match=_round(_mean([a["exactMatch"] for a in scored])),
        token_f1=_round(_mean([a["tokenF1"] for a in scored])),
        rouge_l=_round(_mean([a["rougeL"] for a in scored])),
    )


def _difference(pairs: Sequence[Record], key: str, rule: VerdictRule) -> Difference | None:
    values = [r["candidate"][key] - r["baseline"][key] for r in pairs
              if r["candidate"].get(key) is not None and r["baseline"].get(key) is not None]
    figures = paired_bootstrap(values, rule.bootstrap_resamples, rule.seed)
    if figures is None:
        return None
    mean, low, high = figures
    return Difference(mean=_round(mean), ci95=[_round(low), _round(high)])  # type: ignore[list-item]


def _pair_winner(record: Record, basis: str) -> str | None:
    if basis == "judge":
        judge = record.get("judge") or {}
        return judge.get("winner")
    candidate, baseline = record["candidate"].get(basis), record["baseline"].get(basis)
    if candidate is None or baseline is None:
        return None
    return "candidate" if candidate > baseline else "baseline" if baseline > candidate else "tie"


def win_rate(pairs: Sequence[Record], basis: str) -> WinRate | None:
    winners = [w for w in (_pair_winner(r, basis) for r in pairs) if w is not None]
    n = len(winners)
    if n == 0:
        return None
    wins, losses = winners.count("candidate"), winners.count("baseline")
    ties = n - wins - losses
    low, high = wilson_interval(wins + ties / 2, n)
    return WinRate(candidate=_round((wins + ties / 2) / n), baseline=_round((losses + ties / 2) / n), wins=wins,
                   losses=losses, ties=ties, n=n, ci95=[_round(low), _round(high)],  # type: ignore[list-item]
                   basis=basis)  # type: ignore[arg-type]


def judge_results(records: Sequence[Record], calls: int | None) -> JudgeResults:
    judged = [r["judge"] for r in records if r.get("judge")]
    both_orders = [j for j in judged if j.get("inconsistent") is not None]
    inconsistent = sum(1 for j in both_orders if j["inconsistent"])
    return JudgeResults(
        calls=calls if calls is not None else sum(len(j.get("games") or ()) for j in judged),
        errors=sum(1 for j in judged if j.get("error")),
        inconsistent=inconsistent,
        inconsistency_rate=_round(inconsistent / len(both_orders)) if both_orders else None,
    )


def results(records: Sequence[Record], rule: VerdictRule, judged: bool) -> Results:
    seconds = active_seconds(records)
    pairs = [r for r in records if r["baseline"].get("error") is None and r["candidate"].get("error") is None]
    has_references = any(r.get("reference") is not None for r in pairs)
    differences = Differences(
        exact_match=_difference(pairs, "exactMatch", rule) if has_references else None,
        token_f1=_difference(pairs, "tokenF1", rule) if has_references else None,
        rouge_l=_difference(pairs, "rougeL", rule) if has_references else None,
        ttft_ms=_difference(pairs, "ttftMs", rule),
        tpot_ms=_difference(pairs, "tpotMs", rule),
        latency_ms=_difference(pairs, "latencyMs", rule),
        output_tokens=_difference(pairs, "outputTokens", rule),
    )
    basis = "judge" if judged else rule.primary_metric if has_references else None
    rate = win_rate(pairs, basis) if basis else None
    lengths = {role: _mean([r[role]["outputTokens"] for r in pairs if r[role].get("outputTokens") is not None])
               for role in ROLES}
    primary: Difference | None = getattr(differences, {"exactMatch": "exact_match", "tokenF1": "token_f1",
                                                       "rougeL": "rouge_l"}[rule.primary_metric])
    decision = decide(VerdictInputs(
        n=rate.n if rate and rate.n is not None else len(pairs),
        min_samples=rule.min_samples,
        judged=judged,
        win_rate=rate.candidate if rate else None,
        win_rate_ci=tuple(rate.ci95) if rate and rate.ci95 else None,  # type: ignore[arg-type]
        primary_metric=rule.primary_metric,
        difference=primary.mean if primary else None,
        difference_ci=tuple(primary.ci95) if primary and primary.ci95 else None,  # type: ignore[arg-type]
    ))
    return Results(
        baseline=model_results(records, "baseline", seconds),
        candidate=model_results(records, "candidate", seconds),
        differences=differences,
        win_rate=rate,
        judge=judge_results(records, None) if judged else None,
        answer_length_ratio=_round(lengths["candidate"] / lengths["baseline"])
        if lengths["candidate"] is not None and lengths["baseline"] else None,
        primary_metric=rule.primary_metric if has_references else None,
        samples=len(records),
        verdict=decision.verdict,
        verdict_reason=decision.reason,
        verdict_message=decision.message,
    )
