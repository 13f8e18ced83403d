"""What the action forms apply: whole manifests the API models accept, and problems named by field."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.api import parse_resource
from kubetune.dashboard.actions import manifests
from kubetune.dashboard.actions.manifests import FormError

TRAIN = {"namespace": "ml", "name": "support-bot", "baseModel": "google/gemma-3-12b-it",
         "datasetSource": "configMap", "configMapName": "facts", "configMapKey": "dataset.jsonl",
         "outputPvc": "adapters", "loraR": "16", "loraAlpha": "32"}


@pytest.mark.parametrize(("extra", "source"), [
    ({}, {"configMap": {"name": "facts", "key": "dataset.jsonl"}}),
    ({"datasetSource": "pvc", "pvcClaim": "data", "pvcPath": "train/rows.jsonl"},
     {"pvc": {"claimName": "data", "path": "train/rows.jsonl"}}),
    ({"datasetSource": "postgres", "datasetFormat": "prompt-completion", "postgresSecret": "appdb",
      "postgresQuery": "select q, a from conversations where gold_star", "postgresMap_prompt": "q",
      "postgresMap_completion": "a"},
     {"postgres": {"secretRef": {"name": "appdb", "key": "url"},
                   "query": "select q, a from conversations where gold_star",
                   "mapping": {"prompt": "q", "completion": "a"}}}),
])
def test_a_training_job_from_each_dataset_source(extra: dict[str, str], source: dict[str, Any]) -> None:
    manifest = manifests.training_job({**TRAIN, **extra})
    parse_resource(manifest)
    assert manifest["metadata"] == {"name": "support-bot", "namespace": "ml",
                                    "labels": {"app.kubernetes.io/managed-by": "kubetune-dashboard"}}
    spec = manifest["spec"]
    assert spec["dataset"]["source"] == source
    assert spec["baseModel"] == {"name": "google/gemma-3-12b-it", "source": {"uri": "hf://google/gemma-3-12b-it"}}
    assert spec["lora"] == {"r": 16, "alpha": 32}
    assert spec["output"] == {"modelName": "support-bot", "storage": {"pvc": {"claimName": "adapters"}}}
    assert "kind: TrainingJob" in manifests.to_yaml(manifest)


def test_lora_hyperparameters_pvc_base_and_serving() -> None:
    manifest = manifests.training_job({**TRAIN, "baseModelPvc": "models/gemma", "targetModules": "q_proj, v_proj",
                                       "maxSteps": "200", "learningRate": "2e-4", "method": "qlora", "gpus": "1",
                                       "serveOn": "vllm-gemma:8001", "modelName": "bot"})
    spec = manifest["spec"]
    assert spec["baseModel"]["source"] == {"pvc": {"claimName": "models", "path": "gemma"}}
    assert spec["lora"]["targetModules"] == ["q_proj", "v_proj"]
    assert spec["hyperparameters"] == {"maxSteps": 200, "learningRate": 2e-4}
    assert spec["serving"] == {"targets": [{"deployment": "vllm-gemma", "port": 8001}]}
    assert spec["output"]["modelName"] == "bot" and spec["method"] == "qlora"


@pytest.mark.parametrize(("change", "field"), [
    ({"name": "Bad_Name"}, "name"),
    ({"namespace": ""}, "namespace"),
    ({"baseModel": ""}, "baseModel"),
    ({"loraR": "sixteen"}, "loraR"),
    ({"datasetSource": "s3"}, "datasetSource"),
    ({"serveOn": "vllm:http"}, "serveOn"),
    ({"loraR": "4096"}, "spec.lora.r"),  # a number, but out of the API's bounds
    ({"method": "qlora", "gpus": "0"}, "spec"),  # qlora needs a GPU: the API's cross-field rule
])
def test_problems_are_named_by_field(change: dict[str, str], field: str) -> None:
    with pytest.raises(FormError) as refused:
        manifests.training_job({**TRAIN, **change})
    assert any(where == field or where.startswith(field) for where, _ in refused.value.errors), refused.value.errors


def model(targets: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "bot-v1", "resourceVersion": "42"}, "spec": {"serving": {"targets": targets}}}


def test_deploy_adds_a_target_and_withdraw_removes_it_conditionally_on_the_version_read() -> None:
    deployed = manifests.serving_targets(model([{"deployment": "a", "port": 8000}]), "deploy", "b", 8001)
    assert deployed.changed and deployed.patch == {
        "metadata": {"resourceVersion": "42"},
        "spec": {"serving": {"targets": [{"deployment": "a", "port": 8000}, {"deployment": "b", "port": 8001}]}}}
    withdrawn = manifests.serving_targets(model([{"deployment": "a"}, {"deployment": "b"}]), "withdraw", "a")
    assert withdrawn.targets == [{"deployment": "b"}] and withdrawn.changed
    again = manifests.serving_targets(model([{"deployment": "a", "port": 8000}]), "deploy", "a")
    assert not again.changed
    with pytest.raises(FormError, match="action"):
        manifests.serving_targets(model([]), "delete", "a")


def test_a_comparison_from_the_form() -> None:
    manifest = manifests.model_comparison({
        "namespace": "ml", "name": "bot-vs-base", "baseline": "gemma", "candidate": "ftm/bot-v1",
        "endpoint": "service/vllm:8000", "promptsSource": "fromTrainingJob", "promptsJob": "support-bot",
        "judgeModel": "qwen-judge", "judgeEndpoint": "deployment/judge", "samples": "50"})
    parse_resource(manifest)
    spec = manifest["spec"]
    assert spec["baseline"] == {"servedName": "gemma"}
    assert spec["candidate"] == {"fineTunedModelRef": {"name": "bot-v1"}}
    assert spec["endpoint"] == {"service": "vllm", "port": 8000}
    assert spec["judge"] == {"model": "qwen-judge", "endpoint": {"deployment": "judge", "port": 8000}}
    assert spec["prompts"] == {"fromTrainingJob": {"name": "support-bot"}} and spec["samples"] == 50


def test_a_comparison_of_a_model_with_itself_is_refused_as_the_api_would() -> None:
    with pytest.raises(FormError, match="candidate must differ"):
        manifests.model_comparison({"namespace": "ml", "name": "x", "baseline": "a", "candidate": "a",
                                    "endpoint": "vllm", "promptsJob": "job"})
