"""The contract with the operator: the config model, the exit codes and the termination message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.api import trainer as api
from kubetune.training import errors
from kubetune.training.config import load_config
from kubetune.training.errors import ConfigInvalid
from kubetune.training.termination import render, write_termination_message

MINIMAL = {
    "job": {"name": "support-bot", "namespace": "ml", "uid": "1234"},
    "baseModel": {"name": "google/gemma-3-12b-it", "path": "/models/base"},
    "dataset": {"format": "openai", "path": "/data/train.jsonl"},
    "output": {"dir": "/out/adapter", "checkpointsDir": "/out/checkpoints"},
}


def test_exit_codes_match_the_published_ones() -> None:
    assert (errors.EXIT_SUCCESS, errors.EXIT_RETRIABLE, errors.EXIT_DATASET_INVALID, errors.EXIT_CONFIG_INVALID,
            errors.EXIT_GANG_STOPPED) == (api.EXIT_SUCCESS, api.EXIT_RETRIABLE, api.EXIT_DATASET_INVALID,
                                          api.EXIT_CONFIG_INVALID, api.EXIT_GANG_STOPPED) == (0, 1, 3, 4, 5)
    assert errors.DatasetInvalid("x").exit_code == 3 and errors.ConfigInvalid("x").exit_code == 4
    assert errors.DatasetUnavailable("x").exit_code == errors.TrainingFailed("x").exit_code == 1


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(MINIMAL))
    config = load_config(path)
    assert config.method == "lora" and config.backend == "auto"
    assert config.lora.target_modules == "all-linear"
    assert config.progress.port == 8080 and config.progress.host is None
    assert config.termination_message_path == "/dev/termination-log"
    assert config.dataset.postgres is None and config.dataset.validation_split == 0.05
    # Round trip through the wire form the builder writes.
    again = api.TrainerConfig.model_validate(json.loads(config.model_dump_json(by_alias=True)))
    assert again == config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dataset": {"format": "openai"}}, "exactly one of path, uri or postgres must be set"),
        ({"dataset": {"format": "openai", "path": "/a", "uri": "https://x/y"}}, "exactly one of path, uri or"),
        ({"dataset": {"format": "openai", "uri": "ftp://x/y"}}, "uri must be an http:// or https:// URL"),
        ({"dataset": {"format": "csv", "path": "/a"}}, "dataset.format"),
        ({"method": "full"}, "method"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"hyperparameters": {"batchSize": 0}}, "hyperparameters.batchSize"),
        ({"unknownField": 1}, "unknownField: Extra inputs are not permitted"),
    ],
)
def test_invalid_config_names_the_field(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps({**MINIMAL, **change}))
    with pytest.raises(ConfigInvalid, match=message.replace("(", r"\(")) as caught:
        load_config(path)
    assert caught.value.exit_code == 4


def test_unreadable_config_is_config_invalid(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match="does not exist"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigInvalid, match="is not readable JSON"):
        load_config(tmp_path / "bad.json")


def test_postgres_source_config() -> None:
    config = api.TrainerConfig.model_validate({**MINIMAL, "dataset": {
        "format": "openai", "postgres": {"query": "select 1", "mapping": {"completion": "answer"}}}})
    assert config.dataset.postgres is not None
    assert config.dataset.postgres.database_url_env == "KUBETUNE_DATABASE_URL"
    assert config.dataset.postgres.statement_timeout_seconds == 300


def result_with(errors_count: int, message: str = "bad rows") -> api.TrainerResult:
    return api.TrainerResult(
        phase="Failed", reason="DatasetInvalid", message=message,
        dataset_stats=api.ResultDatasetStats(examples=10, rejected=90, sha256="ab" * 32),
        errors=[f"line {i}: messages[0].role: unknown role 'bot'; expected one of system, user, assistant, tool"
                for i in range(errors_count)],
    )


def test_termination_message_fits_4kb_by_dropping_errors() -> None:
    text = render(result_with(500))
    assert len(text.encode()) <= 4096
    parsed = api.TrainerResult.model_validate_json(text)
    assert 10 < len(parsed.errors) < 500
    assert parsed.errors[0].startswith("line 0: messages[0].role")  # the first errors are the ones kept
    assert parsed.dataset_stats is not None and parsed.dataset_stats.rejected == 90


def test_termination_message_shortens_a_huge_message() -> None:
    text = render(result_with(0, message="é" * 5000))
    assert len(text.encode()) <= 4096
    assert api.TrainerResult.model_validate_json(text).message.endswith("...")


def test_small_result_is_written_whole(tmp_path: Path) -> None:
    result = result_with(3)
    write_termination_message(str(tmp_path / "termination-log"), result)
    written = json.loads((tmp_path / "termination-log").read_text())
    assert written["reason"] == "DatasetInvalid" and len(written["errors"]) == 3
    assert written["datasetStats"]["sha256"] == "ab" * 32
    write_termination_message(str(tmp_path / "no" / "such" / "dir"), result)  # logged, not raised


def test_termination_message_is_redacted_before_it_is_shortened() -> None:
    # A password at the very end of a long message would survive a cut that left "u:s3cr" behind.
    text = render(result_with(0, message="x" * 4000 + ' missing "=" after "postgresql//u:s3cretpw@h/db"'))
    assert len(text.encode()) <= 4096
    assert "s3cr" not in text


def test_termination_message_errors_are_redacted_with_known_secrets() -> None:
    result = result_with(0, message="postgresql://u:pw@h/db")
    result.errors = ["line 1: host=h password=s3cretpw", "line 2: token tok-9f8e7d6c"]
    parsed = api.TrainerResult.model_validate_json(render(result, secrets={"tok-9f8e7d6c"}))
    assert parsed.errors == ["line 1: host=h password=***", "line 2: token ***"]
    assert parsed.message == "postgresql://u:***@h/db"
