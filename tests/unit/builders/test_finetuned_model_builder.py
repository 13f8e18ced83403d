"""build_finetuned_model, parse_version and model_version_name: the FineTunedModel a succeeded job registers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from builder_inputs import UID

from kubetune.api import FineTunedModel, TrainingJob, parse_resource
from kubetune.api.trainer import ResultDatasetStats, ResultMetrics, TrainerResult
from kubetune.builders.finetunedmodel import build_finetuned_model, model_version_name, parse_version
from kubetune.builders.naming import MANAGED_BY, MODEL_NAME, TRAININGJOB, TRAININGJOB_UID
from kubetune.builders.training import adapter_path

Make = Callable[..., TrainingJob]

RESULT = TrainerResult(
    phase="Succeeded", reason="Completed", message="trained 60 steps",
    metrics=ResultMetrics(train_loss=0.42, eval_loss=0.55, steps=60, epochs=2.0, tokens_per_second=5400.0,
                          runtime_seconds=12.5),
    dataset_stats=ResultDatasetStats(examples=24, rejected=1, sha256="ab" * 32),
)


@pytest.mark.parametrize(("model", "version", "name"), [("support-bot", 1, "support-bot-v1"),
                                                         ("support-bot", 12, "support-bot-v12")])
def test_model_version_name(model: str, version: int, name: str) -> None:
    assert model_version_name(model, version) == name
    assert parse_version(model, name) == version


@pytest.mark.parametrize(("name", "version"), [
    ("support-bot-v3", 3),
    ("support-bot-v10", 10),
    ("support-bot-v", None),
    ("support-bot-vx", None),
    ("support-bot-v3-canary", None),
    ("support-bot-v2-v3", None),
    ("support-bot", None),
    ("other-v3", None),
    ("support-bot-extra-v3", None),  # another model whose name starts with this one's
])
def test_parse_version(name: str, version: int | None) -> None:
    assert parse_version("support-bot", name) == version


def test_identity_and_labels(trainingjob: Make) -> None:
    body = build_finetuned_model(trainingjob(name="support-bot-run", namespace="team-a"), 3, RESULT)
    assert (body["apiVersion"], body["kind"]) == ("kubetune.dev/v1alpha1", "FineTunedModel")
    meta = body["metadata"]
    assert (meta["name"], meta["namespace"]) == ("support-bot-v3", "team-a")
    labels = meta["labels"]
    assert labels[MANAGED_BY] == "kubetune"
    assert (labels[MODEL_NAME], labels[TRAININGJOB], labels[TRAININGJOB_UID]) == ("support-bot", "support-bot-run",
                                                                                 UID)
    # Models outlive the jobs that made them.
    assert "ownerReferences" not in meta


def test_spec_points_at_the_adapter(trainingjob: Make) -> None:
    tj = trainingjob()
    spec = build_finetuned_model(tj, 1, RESULT)["spec"]
    assert spec["baseModel"] == {"name": "google/gemma-3-12b-it"}
    assert spec["adapter"] == {"pvc": {"claimName": "adapters", "path": adapter_path(tj)}}
    assert spec["servedName"] == "support-bot-v1"


def test_origin_records_metrics_and_dataset(trainingjob: Make) -> None:
    origin = build_finetuned_model(trainingjob(name="run-7"), 1, RESULT)["spec"]["origin"]
    assert origin["trainingJob"] == "run-7"
    assert origin["datasetSha256"] == "ab" * 32
    assert origin["metrics"] == {"trainLoss": 0.42, "evalLoss": 0.55, "steps": 60, "epochs": 2.0,
                                 "tokensPerSecond": 5400.0, "runtimeSeconds": 12.5}


def test_without_a_result(trainingjob: Make) -> None:
    origin = build_finetuned_model(trainingjob(name="run-7"), 1, None)["spec"]["origin"]
    assert origin == {"trainingJob": "run-7"}


def test_serving_targets_are_copied(trainingjob: Make) -> None:
    tj = trainingjob(serving={"targets": [{"deployment": "vllm-gemma", "port": 8000,
                                           "apiKeySecretRef": {"name": "vllm", "key": "api-key"}}]})
    serving = build_finetuned_model(tj, 1, RESULT)["spec"]["serving"]
    (target,) = serving["targets"]
    assert target["deployment"] == "vllm-gemma" and target["port"] == 8000
    assert target["apiKeySecretRef"] == {"name": "vllm", "key": "api-key"}


def test_no_serving_without_targets(trainingjob: Make) -> None:
    assert "serving" not in build_finetuned_model(trainingjob(), 1, RESULT)["spec"]


@pytest.mark.parametrize("result", [RESULT, None])
def test_the_model_is_a_valid_finetunedmodel(trainingjob: Make, result: TrainerResult | None) -> None:
    tj = trainingjob(serving={"targets": [{"deployment": "vllm-gemma"}]})
    model = parse_resource(build_finetuned_model(tj, 2, result))
    assert isinstance(model, FineTunedModel)
    assert model.spec.served_name == "support-bot-v2"
