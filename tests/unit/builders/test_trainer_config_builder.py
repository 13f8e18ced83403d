"""build_trainer_config and build_trainer_configmap: what the training pod reads from /etc/kubetune."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from builder_inputs import ROWS, UID

from kubetune.api import TrainingJob
from kubetune.api.trainer import TrainerConfig
from kubetune.builders.naming import TRAININGJOB, TRAININGJOB_UID
from kubetune.builders.training import (
    adapter_path,
    build_trainer_config,
    build_trainer_configmap,
    trainer_name,
)
from kubetune.settings import OperatorSettings

Make = Callable[..., TrainingJob]
Json = dict[str, Any]


def test_job_reference_and_training_settings(trainingjob: Make, settings: OperatorSettings) -> None:
    config = build_trainer_config(trainingjob(name="support-bot", namespace="team-a"), settings)
    assert (config.job.name, config.job.namespace, config.job.uid) == ("support-bot", "team-a", UID)
    assert (config.lora.r, config.lora.alpha, config.lora.target_modules) == (8, 16, ["q_proj", "v_proj"])
    hp = config.hyperparameters
    assert (hp.epochs, hp.batch_size, hp.learning_rate, hp.max_seq_length, hp.seed) == (2, 4, 1e-4, 512, 7)
    assert (config.checkpoint.every_steps, config.checkpoint.keep) == (50, 3)
    assert config.progress.port == 8181
    assert config.termination_message_path == "/dev/termination-log"
    assert (config.method, config.backend) == ("lora", "auto")


def test_output_is_per_trainingjob_object(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(name="support-bot")
    config = build_trainer_config(tj, settings)
    # One run directory per object (uid prefix): a re-created job with the same name starts clean.
    run = f"/output/runs/support-bot/support-bot-{UID[:8]}"
    assert config.output.dir == f"{run}/adapter"
    assert config.output.checkpoints_dir == f"{run}/checkpoints"
    # The FineTunedModel records the adapter relative to the claim: the same place, seen from outside the pod.
    assert f"/output/{adapter_path(tj)}" == config.output.dir
    other = build_trainer_config(trainingjob(name="support-bot", uid="99999999-0000-0000-0000-000000000000"), settings)
    assert other.output.dir != config.output.dir


def test_output_at_the_claim_root(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(output={"modelName": "bot", "storage": {"pvc": {"claimName": "adapters"}}})
    assert adapter_path(tj) == f"bot/support-bot-{UID[:8]}/adapter"
    assert build_trainer_config(tj, settings).output.dir == f"/output/bot/support-bot-{UID[:8]}/adapter"


@pytest.mark.parametrize(("source", "expected"), [
    ({"inline": ROWS}, {"path": "/etc/kubetune/dataset.jsonl"}),
    ({"configMap": {"name": "rows", "key": "train.jsonl"}}, {"path": "/data/dataset.jsonl"}),
    ({"pvc": {"claimName": "data", "path": "sets/train.jsonl"}}, {"path": "/data/sets/train.jsonl"}),
    ({"uri": "https://data.example/train.jsonl"}, {"uri": "https://data.example/train.jsonl"}),
])
def test_dataset_sources(trainingjob: Make, settings: OperatorSettings, source: Json, expected: Json) -> None:
    tj = trainingjob(dataset={"format": "openai", "source": source, "validationSplit": 0.2,
                              "maxRejectedFraction": 0.1})
    dataset = build_trainer_config(tj, settings).dataset
    for key in ("path", "uri", "postgres"):
        assert getattr(dataset, key) == expected.get(key)
    assert (dataset.format, dataset.validation_split, dataset.max_rejected_fraction) == ("openai", 0.2, 0.1)
    assert dataset.seed == 7  # the split follows the job's seed


def test_postgres_source(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(dataset={"format": "prompt-completion", "source": {"postgres": {
        "secretRef": {"name": "appdb", "key": "url"}, "query": "select question, answer from conversations",
        "mapping": {"prompt": "question", "completion": "answer"}, "statementTimeoutSeconds": 120,
        "fetchSize": 500}}})
    dataset = build_trainer_config(tj, settings).dataset
    assert dataset.path is None and dataset.uri is None
    pg = dataset.postgres
    assert pg is not None
    assert pg.query == "select question, answer from conversations"
    assert pg.mapping == {"prompt": "question", "completion": "answer"}
    assert (pg.statement_timeout_seconds, pg.fetch_size) == (120, 500)
    # The config names the variable; the URL itself stays in the Secret.
    assert pg.database_url_env == "KUBETUNE_DATABASE_URL"


@pytest.mark.parametrize("source", [{"pvc": {"claimName": "models", "path": "gemma-3-12b-it"}},
                                    {"pvc": {"claimName": "models"}}])
def test_base_model_on_a_claim_is_read_where_it_is_mounted(trainingjob: Make, settings: OperatorSettings,
                                                           source: Json) -> None:
    tj = trainingjob(baseModel={"name": "google/gemma-3-12b-it", "source": source})
    base = build_trainer_config(tj, settings).base_model
    assert (base.name, base.path, base.hub) == ("google/gemma-3-12b-it", "/models/base", None)


@pytest.mark.parametrize(("uri", "repo_id", "revision"), [
    ("hf://google/gemma-3-12b-it", "google/gemma-3-12b-it", None),
    ("hf://Qwen/Qwen2.5-0.5B-Instruct@v1.2", "Qwen/Qwen2.5-0.5B-Instruct", "v1.2"),
    ("hf://Qwen/Qwen2.5-0.5B-Instruct@refs/pr/3", "Qwen/Qwen2.5-0.5B-Instruct", "refs/pr/3"),
    ("hf://gpt2@" + "0123456789abcdef" * 2 + "01234567", "gpt2", "0123456789abcdef" * 2 + "01234567"),
])
def test_hub_base_model_keeps_repo_and_revision(trainingjob: Make, settings: OperatorSettings, uri: str,
                                                repo_id: str, revision: str | None) -> None:
    tj = trainingjob(baseModel={"name": "served-base", "source": {"uri": uri}})
    base = build_trainer_config(tj, settings).base_model
    # Downloaded into the pod's /tmp emptyDir, then loaded from there.
    assert (base.name, base.path) == ("served-base", "/tmp/hf/base")
    assert base.hub is not None
    assert (base.hub.repo_id, base.hub.revision, base.hub.token_env) == (repo_id, revision, None)


def test_hub_token_is_named_in_the_config_never_written_into_it(trainingjob: Make,
                                                                settings: OperatorSettings) -> None:
    tj = trainingjob(baseModel={"name": "m", "source": {"uri": "hf://org/private@main",
                                                        "tokenSecretRef": {"name": "hf", "key": "token"}}})
    hub = build_trainer_config(tj, settings).base_model.hub
    assert hub is not None and hub.token_env == "HF_TOKEN"
    job_json = build_trainer_configmap(tj, settings)["data"]["job.json"]
    assert json.loads(job_json)["baseModel"] == {
        "name": "m", "path": "/tmp/hf/base",
        "hub": {"repoId": "org/private", "revision": "main", "tokenEnv": "HF_TOKEN"}}


def test_configmap_identity(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(name="support-bot", namespace="team-a")
    cm = build_trainer_configmap(tj, settings)
    assert (cm["apiVersion"], cm["kind"]) == ("v1", "ConfigMap")
    meta = cm["metadata"]
    # The Job mounts the ConfigMap of the same name.
    assert (meta["name"], meta["namespace"]) == (trainer_name(tj), "team-a")
    assert (meta["labels"][TRAININGJOB], meta["labels"][TRAININGJOB_UID]) == ("support-bot", UID)
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == ("TrainingJob", "support-bot", UID,
                                                                                 True)


def test_configmap_holds_the_config(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob()
    data = build_trainer_configmap(tj, settings)["data"]
    parsed = TrainerConfig.model_validate_json(data["job.json"])
    assert parsed == build_trainer_config(tj, settings)
    assert "baseModel" in json.loads(data["job.json"])  # camelCase on the wire, as the trainer reads it


def test_configmap_holds_inline_rows_as_json_lines(trainingjob: Make, settings: OperatorSettings) -> None:
    data = build_trainer_configmap(trainingjob(), settings)["data"]
    lines = data["dataset.jsonl"].splitlines()
    assert [json.loads(line) for line in lines] == ROWS
    assert "Où est ma commande ?" in data["dataset.jsonl"]  # UTF-8 kept as text, not \\u escapes
    assert data["dataset.jsonl"].endswith("\n")


@pytest.mark.parametrize("source", [
    {"configMap": {"name": "rows", "key": "train.jsonl"}},
    {"pvc": {"claimName": "data", "path": "train.jsonl"}},
    {"uri": "https://data.example/train.jsonl"},
    {"postgres": {"secretRef": {"name": "appdb", "key": "url"}, "query": "select 1"}},
])
def test_configmap_has_no_rows_for_other_sources(trainingjob: Make, settings: OperatorSettings, source: Json) -> None:
    data = build_trainer_configmap(trainingjob(dataset={"source": source}), settings)["data"]
    assert set(data) == {"job.json"}


def test_configmap_is_deterministic(trainingjob: Make, settings: OperatorSettings) -> None:
    # The operator hashes the ConfigMap's data to decide whether a not-yet-started Job must be replaced.
    assert build_trainer_configmap(trainingjob(), settings) == build_trainer_configmap(trainingjob(), settings)
