"""Failures end with the documented exit code and a termination message the operator can act on."""

from __future__ import annotations

import json
from pathlib import Path

from trainer_harness import MEMO, conversation, job_config, write_config, write_jsonl

from kubetune.api.trainer import EXIT_CONFIG_INVALID, EXIT_DATASET_INVALID, TrainerConfig, TrainerResult
from kubetune.training.main import execute, main


def result_of(config: dict) -> TrainerResult:
    return TrainerResult.model_validate_json(Path(config["terminationMessagePath"]).read_text())


def test_invalid_dataset_fails_with_line_numbers_and_exit_3(tmp_path: Path, tiny_model: Path) -> None:
    rows = [json.dumps(conversation(p, a)) for p, a in MEMO]
    rows[2] = '{"messages": [{"role": "user", "content": "no answer"}]}'
    rows[5] = "not json"
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(rows) + "\n")
    config = job_config(tmp_path, tiny_model, {"format": "openai", "path": str(data), "maxRejectedFraction": 0.1})
    assert execute(TrainerConfig.model_validate(config)) == EXIT_DATASET_INVALID
    result = result_of(config)
    assert (result.phase, result.reason) == ("Failed", "DatasetInvalid")
    assert result.message == "2 of 8 rows are invalid (25.0%), more than maxRejectedFraction 0.1"
    assert result.errors == ["line 3: messages: no assistant message",
                             "line 6: (line): not valid JSON: Expecting value (column 1)"]
    assert result.dataset_stats is not None and result.dataset_stats.rejected == 2
    assert not Path(config["output"]["dir"]).exists()


def test_qlora_without_gpu_is_config_invalid(tmp_path: Path, tiny_model: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", [conversation(p, a) for p, a in MEMO])
    config = job_config(tmp_path, tiny_model, {"format": "openai", "path": str(data)}, method="qlora")
    assert execute(TrainerConfig.model_validate(config)) == EXIT_CONFIG_INVALID
    result = result_of(config)
    assert result.reason == "ConfigInvalid" and "qlora needs a CUDA GPU" in result.message


def test_unsloth_without_gpu_is_config_invalid(tmp_path: Path, tiny_model: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", [conversation(p, a) for p, a in MEMO])
    config = job_config(tmp_path, tiny_model, {"format": "openai", "path": str(data)}, backend="unsloth")
    assert execute(TrainerConfig.model_validate(config)) == EXIT_CONFIG_INVALID
    assert "backend unsloth needs a CUDA GPU" in result_of(config).message


def test_missing_base_model_is_config_invalid(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", [conversation(p, a) for p, a in MEMO])
    config = job_config(tmp_path, tmp_path / "no-model", {"format": "openai", "path": str(data)})
    assert execute(TrainerConfig.model_validate(config)) == EXIT_CONFIG_INVALID
    assert "cannot load the tokenizer" in result_of(config).message


def test_malformed_config_file_exits_4(tmp_path: Path, tiny_model: Path) -> None:
    config = job_config(tmp_path, tiny_model, {"format": "openai"})  # no source
    assert main(["--config", str(write_config(tmp_path, config))]) == EXIT_CONFIG_INVALID
