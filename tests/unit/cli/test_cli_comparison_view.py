"""The result table of a ModelComparison, rendered from realistic status bodies. Data-driven: a metric the evaluator
adds later shows up without a change to the CLI."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from kubetune.api import ModelComparison
from kubetune.cli.comparison_view import MetricRow, label_for, metric_rows, render, win_rate_line

Json = dict[str, Any]


def comparison(results: Json | None, phase: str = "Succeeded") -> Json:
    body: Json = {
        "apiVersion": "kubetune.dev/v1alpha1", "kind": "ModelComparison",
        "metadata": {"name": "facts-v1-vs-tiny-llama", "namespace": "kubetune-demo"},
        "spec": {"baseline": {"servedName": "tiny-llama"}, "candidate": {"fineTunedModelRef": {"name": "facts-v1"}},
                 "endpoint": {"deployment": "vllm", "port": 8000},
                 "prompts": {"inline": [{"prompt": "What is the capital of France?", "reference": "Paris"}]}},
        "status": {"phase": phase, **({"results": results} if results is not None else {})},
    }
    return body


RESULTS: Json = {
    "baseline": {"latencyP50Ms": 212.4, "latencyP95Ms": 380.0, "ttftP50Ms": 31.2, "ttftP95Ms": 55.0,
                 "outputTokensPerSecond": 410.5, "requestsPerSecond": 7.9, "errors": 0, "exactMatch": 0.05,
                 "rougeL": 0.21},
    "candidate": {"latencyP50Ms": 230.1, "latencyP95Ms": 402.9, "ttftP50Ms": 33.0, "ttftP95Ms": 58.1,
                  "outputTokensPerSecond": 388.0, "requestsPerSecond": 7.4, "errors": 0, "exactMatch": 0.61,
                  "rougeL": 0.74},
    "winRate": {"candidate": 0.64, "baseline": 0.30, "ties": 12, "n": 200, "ci95": [0.57, 0.70]},
    "verdict": "candidate",
}


def text(items: list[Any]) -> str:
    console = Console(width=120, record=True, color_system=None)
    for item in items:
        console.print(item)
    return console.export_text()


def test_realistic_results_body_is_valid_against_the_api() -> None:
    ModelComparison.model_validate(comparison(RESULTS))  # the fixture is what the operator can write


def test_every_metric_is_a_row_with_baseline_candidate_and_change() -> None:
    out = text(render(comparison(RESULTS)))
    assert "ModelComparison facts-v1-vs-tiny-llama: facts-v1 (candidate) against tiny-llama (baseline)" in out
    assert "BASELINE (tiny-llama)" in out and "CANDIDATE (facts-v1)" in out
    lines = {line.split("   ")[0].strip(): line for line in out.splitlines()}
    assert "0.05" in lines["exact match"] and "0.61" in lines["exact match"] and "+1120.0%" in lines["exact match"]
    assert "212.4" in lines["latency p50 (ms)"] and "+8.3%" in lines["latency p50 (ms)"]
    assert "failed requests" in lines
    assert ("win rate: candidate wins 64% (95% CI 57% to 70%), baseline wins 30%, 12 ties, n = 200") in out
    assert "verdict: candidate (facts-v1 is better)" in out


def test_the_change_is_green_where_the_candidate_is_better_and_red_where_worse() -> None:
    rows = {row.key: row for row in metric_rows(RESULTS)}
    assert rows["rougeL"].winner == "candidate"  # higher is better
    assert rows["latencyP50Ms"].winner == "baseline"  # lower is better, and the candidate is slower
    assert rows["errors"].winner is None and rows["errors"].change is None  # 0 and 0
    console = Console(width=120, record=True, force_terminal=True, color_system="standard")
    console.print(render(comparison(RESULTS))[1])
    styled = console.export_text(styles=True)
    assert "\x1b[32m+252.4%" in styled  # rougeL, green
    assert "\x1b[31m+8.3%" in styled  # latency p50, red


def test_metrics_the_evaluator_adds_later_show_up() -> None:
    results = {
        "baseline": {"latencyP50Ms": 100.0, "bleuScore": 0.2, "judgeCostUsd": 0.5, "p99QueueMs": 9.0},
        "candidate": {"latencyP50Ms": 90.0, "bleuScore": 0.3, "p99QueueMs": 12.0},
        "winRate": {"candidate": 0.5, "n": 10, "judgeAgreement": 0.9},
        "verdict": "inconclusive",
        "samples": 10,
        "judge": {"model": "qwen-judge", "positionSwap": True},
    }
    out = text(render(comparison(results)))
    assert [r.key for r in metric_rows(results)] == ["latencyP50Ms", "bleuScore", "judgeCostUsd", "p99QueueMs"]
    assert "bleu score" in out and "+50.0%" in out
    assert "judge cost usd" in out  # only the baseline has it: shown, no change
    assert "p99 queue (ms)" in out and label_for("p99QueueMs") == ("p99 queue (ms)", "lower")
    assert "judge agreement 0.9" in out
    assert "verdict: inconclusive" in out
    assert "samples: 10" in out and 'judge: {"model":"qwen-judge","positionSwap":true}' in out


def test_before_results_there_is_a_line_saying_so() -> None:
    out = text(render(comparison(None, phase="Running")))
    assert "no results yet (phase Running)" in out
    assert win_rate_line({}) is None


def test_metric_row_change_is_relative_to_the_baseline() -> None:
    assert MetricRow("x", "x", 200.0, 150.0, "lower").change == -0.25
    assert MetricRow("x", "x", 200.0, 150.0, "lower").winner == "candidate"
    assert MetricRow("x", "x", None, 1.0, "higher").change is None
    assert MetricRow("x", "x", True, False, "higher").change is None
