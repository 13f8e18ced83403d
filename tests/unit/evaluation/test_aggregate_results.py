"""Sample records -> status.results: serving figures, paired differences, the win rate and its basis, the judge's
consistency, the verdict; and the termination message stays under 4 KB."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.api.evaluator import EvaluatorResult, VerdictRule
from kubetune.evaluation.aggregate import active_seconds, results
from kubetune.evaluation.termination import render


def answer(text: str, score: float, ttft: float, e2e: float, tokens: int, sent: float,
           error: str | None = None) -> dict[str, Any]:
    if error:
        return {"answer": None, "error": error}
    return {"answer": text, "error": None, "sentAt": sent, "endedAt": sent + e2e / 1000, "ttftMs": ttft,
            "latencyMs": e2e, "tpotMs": (e2e - ttft) / (tokens - 1), "itlMs": [(e2e - ttft) / (tokens - 1)] * (
                tokens - 1), "outputTokens": tokens, "exactMatch": score, "tokenF1": score, "rougeL": score}


def record(i: int, base: float, cand: float, attempt: int = 1, judge: dict[str, Any] | None = None,
           cand_error: str | None = None) -> dict[str, Any]:
    return {"id": i, "attempt": attempt, "reference": "r",
            "baseline": answer("b", base, 10.0, 110.0, 11, 100.0 * attempt + i),
            "candidate": answer("c", cand, 20.0, 220.0, 21, 100.0 * attempt + i, cand_error),
            "judge": judge}


RULE = VerdictRule(min_samples=10, primary_metric="exactMatch", bootstrap_resamples=1000)


def test_serving_figures_follow_vllm_bench_serve() -> None:
    out = results([record(i, 0.0, 1.0) for i in range(20)], RULE, judged=False)
    assert out.baseline is not None and out.candidate is not None
    assert out.baseline.ttft_ms is not None and out.baseline.ttft_ms.p50 == 10.0
    assert out.candidate.tpot_ms is not None and out.candidate.tpot_ms.mean == pytest.approx(10.0)
    assert out.candidate.latency_ms is not None and out.candidate.latency_ms.p99 == 220.0
    assert (out.candidate.mean_output_tokens, out.candidate.completed, out.candidate.errors) == (21.0, 20, 0)
    seconds = 19.22  # the first send at 100.0, the last end at 119.22
    assert out.candidate.requests_per_second == pytest.approx(20 / seconds, rel=1e-3)
    assert out.candidate.output_tokens_per_second == pytest.approx(20 * 21 / seconds, rel=1e-3)
    assert out.answer_length_ratio == pytest.approx(21 / 11, rel=1e-3)
    assert out.differences is not None and out.differences.ttft_ms is not None
    assert out.differences.ttft_ms.mean == 10.0 and out.differences.ttft_ms.ci95 == [10.0, 10.0]


def test_a_better_candidate_without_judge_wins_by_the_primary_metric() -> None:
    out = results([record(i, 0.0, 1.0 if i % 4 else 0.0) for i in range(40)], RULE, judged=False)
    assert out.win_rate is not None and out.win_rate.basis == "exactMatch"
    assert (out.win_rate.wins, out.win_rate.losses, out.win_rate.ties, out.win_rate.n) == (30, 0, 10, 40)
    assert out.win_rate.candidate == pytest.approx(35 / 40)
    assert out.differences is not None and out.differences.exact_match is not None
    assert out.differences.exact_match.ci95 is not None and out.differences.exact_match.ci95[0] > 0
    assert (out.verdict, out.verdict_reason, out.primary_metric) == ("candidate", "CandidateBetter", "exactMatch")


def test_identical_models_are_inconclusive_with_an_interval_around_one_half() -> None:
    out = results([record(i, 0.5, 0.5) for i in range(40)], RULE, judged=False)
    assert out.win_rate is not None and out.win_rate.ci95 is not None
    assert out.win_rate.candidate == 0.5 and out.win_rate.ci95[0] < 0.5 < out.win_rate.ci95[1]
    assert (out.verdict, out.verdict_reason) == ("inconclusive", "NoSignificantDifference")


def test_the_judge_decides_and_its_inconsistency_is_counted() -> None:
    def judged(winner: str, inconsistent: bool) -> dict[str, Any]:
        return {"games": [{}, {}], "winner": winner, "inconsistent": inconsistent, "error": None}

    records = [record(i, 1.0, 0.0, judge=judged("candidate", False)) for i in range(30)]
    records += [record(30 + i, 1.0, 0.0, judge=judged("tie", True)) for i in range(10)]
    out = results(records, RULE, judged=True)
    assert out.win_rate is not None and out.win_rate.basis == "judge"
    assert (out.win_rate.wins, out.win_rate.ties, out.win_rate.n) == (30, 10, 40)
    assert out.verdict == "candidate"  # the judge, not the (opposite) reference metric
    assert out.judge is not None and (out.judge.calls, out.judge.inconsistent) == (80, 10)
    assert out.judge.inconsistency_rate == 0.25


def test_failed_requests_are_counted_and_left_out_of_the_pairs() -> None:
    records = [record(i, 0.0, 1.0, cand_error="HTTP 500: boom" if i < 3 else None) for i in range(20)]
    out = results(records, RULE, judged=False)
    assert out.candidate is not None and (out.candidate.completed, out.candidate.errors) == (17, 3)
    assert out.win_rate is not None and out.win_rate.n == 17 and out.samples == 20


def test_throughput_spans_each_pod_attempt_without_the_gap_between() -> None:
    records = [record(i, 0.0, 1.0, attempt=1) for i in range(5)] + [record(i, 0.0, 1.0, attempt=3) for i in range(5)]
    # attempt 1: 100.0 .. 104.22; attempt 3: 300.0 .. 304.22 (the 200 s between pods does not count)
    assert active_seconds(records) == pytest.approx(2 * 4.22)


def test_few_pairs_are_too_few() -> None:
    out = results([record(i, 0.0, 1.0) for i in range(5)], RULE, judged=False)
    assert (out.verdict, out.verdict_reason) == ("inconclusive", "TooFewSamples")


def test_the_termination_message_fits_in_4_kb() -> None:
    def judged() -> dict[str, Any]:
        return {"games": [{}, {}], "winner": "tie", "inconsistent": True, "error": None}

    out = results([record(i, 0.25 * (i % 3), 0.3 * (i % 4), judge=judged()) for i in range(200)], RULE, judged=True)
    full = EvaluatorResult(phase="Succeeded", reason="Completed", message="m" * 300, results=out,
                           samples_file="/samples/x/samples.jsonl", first_error="e" * 2000)
    text = render(full)
    assert len(text.encode()) <= 4096
    parsed = EvaluatorResult.model_validate_json(text)
    assert parsed.results is not None and parsed.results.verdict == out.verdict
    assert parsed.results.win_rate == out.win_rate and parsed.results.candidate is not None
    assert parsed.results.candidate.ttft_ms == out.candidate.ttft_ms  # type: ignore[union-attr]
