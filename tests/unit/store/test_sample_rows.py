"""A ModelComparison sample becomes a row whatever shape the evaluator gives it: flat fields, or per-side maps with
the answer, its scores and its timings (the evaluator's JSON Lines records)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubetune.store.records import Sample

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_an_evaluator_record_fills_the_columns() -> None:
    record = {
        "id": 7, "promptSha256": "ab" * 32, "attempt": 1,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}],
        "reference": "Paris",
        "baseline": {"answer": "Lyon", "ttftMs": 21.5, "latencyMs": 80.0, "outputTokens": 3, "exactMatch": 0.0,
                     "tokenF1": 0.0, "rougeL": 0.0, "error": None},
        "candidate": {"answer": "Paris", "ttftMs": 19.0, "latencyMs": 70.0, "outputTokens": 2, "exactMatch": 1.0,
                      "tokenF1": 1.0, "rougeL": 1.0, "error": None},
        "judge": {"games": [{"a": "baseline", "b": "candidate", "verdict": "B"}], "winner": "candidate"},
    }
    row = Sample.of("mc-uid", record).row(NOW)
    assert (row["comparison_uid"], row["sample_index"]) == ("mc-uid", 7)
    assert (row["prompt"], row["reference"]) == ("Capital of France?", "Paris")
    assert (row["baseline_answer"], row["candidate_answer"]) == ("Lyon", "Paris")
    assert row["metrics"] == {"baseline": {"exactMatch": 0.0, "tokenF1": 0.0, "rougeL": 0.0},
                              "candidate": {"exactMatch": 1.0, "tokenF1": 1.0, "rougeL": 1.0}}
    assert row["latencies"]["candidate"] == {"ttftMs": 19.0, "latencyMs": 70.0, "outputTokens": 2}
    assert row["judge"]["winner"] == "candidate"
    assert row["data"] == record


def test_flat_samples_and_explicit_maps() -> None:
    row = Sample.of("mc", {"index": 0, "prompt": "q", "baselineAnswer": "a", "candidateAnswer": "b",
                           "metrics": {"rougeL": 0.5}, "latencies": 12}).row(NOW)
    assert (row["prompt"], row["baseline_answer"], row["candidate_answer"]) == ("q", "a", "b")
    assert row["metrics"] == {"rougeL": 0.5} and row["latencies"] == {"value": 12}


@pytest.mark.parametrize("sample", [{"prompt": "q"}, {"index": "3"}, {"id": True}])
def test_a_sample_needs_an_integer_index(sample: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="integer index"):
        Sample.of("mc", sample)
