"""The evaluator against real vLLM (CPU): a trained adapter against its base on its held-out split, a model against
itself, a judge served by vLLM under structured outputs, and API keys that never leave the environment."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from evaluator_harness import ADAPTER_NAME, ANSWER, API_KEY, BASE_NAME, Trained, evaluator_config, run_evaluator

from kubetune.api.evaluator import EXIT_CONFIG_INVALID, EXIT_ENDPOINT_ERRORS, EvaluatorResult
from kubetune_devcluster.vllm_server import VLLMProcess

pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(1800)]


def test_the_trainer_kept_its_held_out_split(trained: Trained) -> None:
    split = trained.held_out
    path = Path(split["path"])
    assert path == trained.adapter.parent / "validation.jsonl"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == split["sha256"]
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == split["examples"] == trained.result["datasetStats"]["validationExamples"] >= 10
    manifest = json.loads((trained.adapter / "kubetune-manifest.json").read_text())
    assert manifest["validationSplit"] == split
    # The split's rows are distinct rows of the dataset, and the rest was trained on.
    dataset = [json.loads(line) for line in (trained.adapter.parent.parent / "orders.jsonl").read_text().splitlines()]
    assert all(row in dataset for row in rows) and len({json.dumps(r) for r in rows}) == len(rows)
    assert trained.result["datasetStats"]["trainExamples"] + split["examples"] == len(dataset) == 64


def test_adapter_beats_its_base_on_the_held_out_split(server: VLLMProcess, trained: Trained,
                                                      tmp_path: Path) -> None:
    split = trained.held_out
    prompts = {"path": split["path"], "format": "training-split", "sha256": split["sha256"]}
    run = run_evaluator(tmp_path, evaluator_config(tmp_path, server.base_url, prompts))
    assert run.returncode == 0, run.log[-3000:]
    result = EvaluatorResult.model_validate(run.result)
    results = result.results
    assert results is not None and results.baseline is not None and results.candidate is not None
    assert (results.verdict, results.verdict_reason) == ("candidate", "CandidateBetter"), results.verdict_message
    assert results.samples == split["examples"] == len(run.samples)
    assert results.candidate.exact_match > results.baseline.exact_match  # type: ignore[operator]
    assert results.candidate.token_f1 > results.baseline.token_f1  # type: ignore[operator]
    differences = results.differences
    assert differences is not None and differences.exact_match is not None and differences.token_f1 is not None
    assert differences.exact_match.ci95 is not None and differences.exact_match.ci95[0] > 0
    assert differences.token_f1.ci95 is not None and differences.token_f1.ci95[0] > 0
    # The adapter says what it learned; serving figures are there for both.
    assert sum(s["candidate"]["answer"].strip() == ANSWER for s in run.samples) >= len(run.samples) // 2
    for model in (results.baseline, results.candidate):
        assert model.completed == len(run.samples) and model.errors == 0
        assert model.ttft_ms is not None and model.ttft_ms.p50 is not None and model.ttft_ms.p50 > 0
        assert model.latency_ms is not None and model.requests_per_second and model.output_tokens_per_second


def test_a_model_against_itself_is_inconclusive(server: VLLMProcess, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Tell me about order {i}.", "reference": ANSWER}) + "\n"
                               for i in range(30)))
    config = evaluator_config(tmp_path, server.base_url, {"path": str(prompts)}, candidate=BASE_NAME,
                              verdict={"minSamples": 10, "primaryMetric": "tokenF1", "bootstrapResamples": 2000})
    run = run_evaluator(tmp_path, config)
    assert run.returncode == 0, run.log[-3000:]
    results = EvaluatorResult.model_validate(run.result).results
    assert results is not None and results.win_rate is not None and results.win_rate.ci95 is not None
    assert results.verdict == "inconclusive" and results.win_rate.n == 30
    low, high = results.win_rate.ci95
    assert low < 0.5 < high


def test_a_judge_served_by_vllm_is_asked_twice_per_pair(server: VLLMProcess, trained: Trained,
                                                        tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": q}) + "\n" for q in ["Where is my parcel?", "hello",
                                                                          "When will my box arrive?"] * 4))
    config = evaluator_config(tmp_path, server.base_url, {"path": str(prompts)}, judge=True,
                              verdict={"minSamples": 5, "primaryMetric": "tokenF1", "bootstrapResamples": 1000})
    run = run_evaluator(tmp_path, config)
    assert run.returncode == 0, run.log[-3000:]
    results = EvaluatorResult.model_validate(run.result).results
    assert results is not None and results.judge is not None and results.win_rate is not None
    n = len(run.samples)
    assert n == 12 and results.win_rate.basis == "judge" and results.win_rate.n == n
    assert results.judge.calls == 2 * n and results.judge.errors == 0
    assert results.judge.inconsistency_rate is not None and 0 <= results.judge.inconsistency_rate <= 1
    assert results.judge.inconsistent == sum(1 for s in run.samples if s["judge"]["inconsistent"])
    for sample in run.samples:
        games = sample["judge"]["games"]
        assert [(g["a"], g["b"]) for g in games] == [("baseline", "candidate"), ("candidate", "baseline")]
        assert all(g["verdict"] in ("A", "B", "tie") for g in games)  # structured outputs: always a valid label
    assert results.answer_length_ratio is not None and results.answer_length_ratio > 0


def test_a_wrong_model_name_fails_with_endpoint_errors_naming_the_first(server: VLLMProcess,
                                                                       tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"q{i}"}) + "\n" for i in range(20)))
    run = run_evaluator(tmp_path, evaluator_config(tmp_path, server.base_url, {"path": str(prompts)},
                                                   candidate="no-such-adapter"))
    assert run.returncode == EXIT_ENDPOINT_ERRORS, run.log[-3000:]
    result = run.result
    assert (result["phase"], result["reason"]) == ("Failed", "EndpointErrors")
    assert "candidate (no-such-adapter)" in result["message"] and "HTTP 404" in result["firstError"]


def test_api_keys_work_and_are_written_nowhere(server: VLLMProcess, trained: Trained, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Where is order {i}?", "reference": ANSWER}) + "\n"
                               for i in range(12)))
    ok = run_evaluator(tmp_path / "ok", evaluator_config(tmp_path / "ok", server.base_url, {"path": str(prompts)},
                                                         judge=True))
    assert ok.returncode == 0, ok.log[-3000:]
    # Without the key the server refuses (401, not retried); with no variable at all the config is refused.
    refused = run_evaluator(tmp_path / "refused", evaluator_config(
        tmp_path / "refused", server.base_url, {"path": str(prompts)},
        baseline=BASE_NAME) | {"baseline": {"model": BASE_NAME, "urls": [server.base_url]}})
    assert refused.returncode == EXIT_ENDPOINT_ERRORS and "HTTP 401" in refused.result["firstError"]
    unset = run_evaluator(tmp_path / "unset", evaluator_config(tmp_path / "unset", server.base_url,
                                                               {"path": str(prompts)}), with_key=False)
    assert unset.returncode == EXIT_CONFIG_INVALID
    assert "KUBETUNE_TEST_API_KEY is not set" in unset.result["message"]
    # The grep: every file the evaluator wrote (samples, termination messages, logs, configs).
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len([p for p in written if p.name == "samples.jsonl"]) >= 1
    assert [str(p) for p in written if API_KEY.encode() in p.read_bytes()] == []
    assert ADAPTER_NAME in (tmp_path / "ok" / "evaluator.json").read_text()  # the grep reads what it should
