"""The result tables of a ModelComparison, rendered from a status the operator writes (the evaluator's results as they
are). Data-driven: a metric the evaluator adds later shows up without a change to the CLI."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from kubetune.api import ModelComparison
from kubetune.cli.comparison_view import MetricRow, label_for, metric_rows, render, win_rate_line

Json = dict[str, Any]


def comparison(results: Json | None, phase: str = "Succeeded") -> Json:
    return {
        "apiVersion": "kubetune.dev/v1alpha1", "kind": "ModelComparison",
        "metadata": {"name": "support-bot-v1-vs-base", "namespace": "kubetune-demo"},
        "spec": {"baseline": {"servedName": "tiny-llama"},
                 "candidate": {"fineTunedModelRef": {"name": "support-bot-v1"}},
                 "endpoint": {"deployment": "vllm", "port": 8000},
                 "prompts": {"fromTrainingJob": {"name": "support-bot"}}},
        "status": {"phase": phase, **({"results": results} if results is not None else {})},
    }


def percentiles(mean: float, p50: float, p95: float, p99: float) -> Json:
    return {"mean": mean, "p50": p50, "p95": p95, "p99": p99}


# The shape of `make demo`'s real result (figures from one run).
RESULTS: Json = {
    "baseline": {"completed": 15, "errors": 0, "exactMatch": 0.0, "tokenF1": 0.0, "rougeL": 0.0133,
                 "ttftMs": percentiles(334.7, 179.4, 826.1, 889.7), "tpotMs": percentiles(20.8, 14.7, 57.7, 66.2),
                 "itlMs": percentiles(23.8, 8.95, 78.7, 319.6), "latencyMs": percentiles(980.4, 861.6, 2064.2, 2209.1),
                 "outputTokensPerSecond": 117.6, "requestsPerSecond": 3.676, "meanOutputTokens": 32.0},
    "candidate": {"completed": 15, "errors": 0, "exactMatch": 1.0, "tokenF1": 1.0, "rougeL": 1.0,
                  "ttftMs": percentiles(314.4, 165.0, 826.7, 891.5), "tpotMs": percentiles(24.4, 14.7, 65.0, 68.0),
                  "itlMs": percentiles(27.0, 9.97, 86.3, 321.4), "latencyMs": percentiles(877.2, 699.5, 1907.8, 1983.8),
                  "outputTokensPerSecond": 88.97, "requestsPerSecond": 3.676, "meanOutputTokens": 24.2},
    "differences": {"exactMatch": {"mean": 1.0, "ci95": [1.0, 1.0]}, "tokenF1": {"mean": 1.0, "ci95": [1.0, 1.0]},
                    "rougeL": {"mean": 0.9867, "ci95": [0.96, 1.0]},
                    "latencyMs": {"mean": -103.2, "ci95": [-163.6, -51.7]},
                    "tpotMs": {"mean": 3.52, "ci95": [0.73, 7.07]}, "ttftMs": {"mean": -20.3, "ci95": [-45.1, 0.93]},
                    "outputTokens": {"mean": -7.8, "ci95": [-9.67, -5.93]}},
    "winRate": {"candidate": 1.0, "baseline": 0.0, "wins": 15, "losses": 0, "ties": 0, "n": 15,
                "ci95": [0.796, 1.0], "basis": "exactMatch"},
    "answerLengthRatio": 0.7562, "primaryMetric": "exactMatch", "samples": 15,
    "verdict": "candidate", "verdictReason": "CandidateBetter",
    "verdictMessage": "exactMatch candidate minus baseline +1.000, paired bootstrap 95% CI [1.000, 1.000], n=15: "
                      "wholly above 0",
}


def text(items: list[Any]) -> str:
    console = Console(width=140, record=True, color_system=None)
    for item in items:
        console.print(item)
    return console.export_text()


def lines_by_label(out: str) -> dict[str, str]:
    return {line.split("  ")[0].strip(): line for line in out.splitlines() if "  " in line}


def test_the_fixture_is_what_the_operator_can_write() -> None:
    ModelComparison.model_validate(comparison(RESULTS))


def test_quality_and_serving_rows_with_the_paired_difference_and_its_ci() -> None:
    out = text(render(comparison(RESULTS)))
    assert "ModelComparison support-bot-v1-vs-base: support-bot-v1 (candidate) against tiny-llama (baseline)" in out
    lines = lines_by_label(out)
    assert "+1 [1, 1]" in lines["exact match"] and "+1 [1, 1]" in lines["token F1"]
    assert "+0.9867 [0.96, 1]" in lines["ROUGE-L"]
    # A percentile block is one row per statistic; the paired difference (of means) goes with the mean.
    assert "179.4" in lines["time to first token (ms) p50"] and "165" in lines["time to first token (ms) p50"]
    assert "-103.2 [-163.6, -51.7]" in lines["end-to-end latency (ms) mean"]
    assert "889.7" in lines["time to first token (ms) p99"]
    assert "117.6" in lines["output tokens/s"] and "failed requests" in lines
    assert ("win rate: candidate 100% (Wilson 95% CI 80% to 100%); 15 wins, 0 losses, 0 ties; n = 15; decided by "
            "exactMatch") in out
    assert "answer length ratio (candidate / baseline): 0.756" in out
    assert "verdict: candidate (support-bot-v1 is better) - CandidateBetter" in out
    assert "wholly above 0" in out


def test_green_where_the_candidate_is_better_red_where_worse_plain_where_the_ci_holds_zero() -> None:
    rows = {row.key: row for row in metric_rows(RESULTS)}
    assert rows["exactMatch"].winner == "candidate"
    assert rows["latencyMs.mean"].winner == "candidate"  # faster: the whole CI is below 0 and lower is better
    assert rows["tpotMs.mean"].winner == "baseline"  # slower per token
    assert rows["ttftMs.mean"].winner is None  # its CI contains 0
    console = Console(width=140, record=True, force_terminal=True, color_system="standard")
    for item in render(comparison(RESULTS)):
        console.print(item)
    styled = console.export_text(styles=True)
    assert "\x1b[32m+1 [1, 1]" in styled and "\x1b[31m+3.52 [0.73, 7.07]" in styled


def test_metrics_the_evaluator_adds_later_show_up() -> None:
    results = {
        "baseline": {"bleuScore": 0.2, "queueMs": percentiles(5, 4, 9, 12), "judgeCostUsd": 0.5},
        "candidate": {"bleuScore": 0.3, "queueMs": percentiles(6, 5, 10, 14)},
        "winRate": {"candidate": 0.5, "n": 10, "judgeAgreement": 0.9},
        "judge": {"calls": 20, "errors": 0, "inconsistent": 3, "inconsistencyRate": 0.3},
        "verdict": "inconclusive",
    }
    out = text(render(comparison(results)))
    assert [r.key for r in metric_rows(results)] == ["bleuScore", "judgeCostUsd", "queueMs.mean", "queueMs.p50",
                                                    "queueMs.p95", "queueMs.p99"]
    assert "bleu score" in out and "judge cost usd" in out and "queue (ms) p99" in out
    assert label_for("queueMs") == ("queue (ms)", "lower")
    assert "judge agreement 0.9" in out
    assert "judge: 20 calls, 0 errors, 3 inconsistent pairs (rate 0.3)" in out
    assert "verdict: inconclusive" in out


def test_before_results_there_is_a_line_saying_so() -> None:
    out = text(render(comparison(None, phase="Running")))
    assert "no results yet (phase Running)" in out
    assert win_rate_line({}) is None


def test_without_a_difference_the_values_decide() -> None:
    assert MetricRow("x", "x", 200.0, 150.0, "lower").winner == "candidate"
    assert MetricRow("x", "x", None, 1.0, "higher").winner is None
    assert MetricRow("x", "x", 1.0, 2.0, None).winner is None
