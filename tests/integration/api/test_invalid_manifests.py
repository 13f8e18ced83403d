"""The API server rejects invalid manifests, and its message names the field and says what is allowed.

Each case starts from a minimal example (which the server accepts, see test_examples_accepted.py), changes one
thing, and asserts the server's 422 message. The operator's own parser must refuse the same manifest, so the two
sides of every rule stay in step.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.api import InvalidResource, parse_resource
from kubetune_devcluster.kubeapi import ApiError

pytestmark = pytest.mark.cluster

DELETE = object()
TJ, FTM, MC = "trainingjob-minimal.yaml", "finetunedmodel-minimal.yaml", "modelcomparison-minimal.yaml"
PVC = {"claimName": "data", "path": "rows.jsonl"}
EXISTS_WITH_VALUE = [{"key": "gpu", "operator": "Exists", "value": "yes"}]
TWO_SAME_TARGETS = {"targets": [{"deployment": "vllm"}, {"deployment": "vllm", "port": 9000}]}

# (id, example, {dotted path: new value or DELETE}, substrings the server's message must contain)
CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    # -- TrainingJob ---------------------------------------------------------------------------------------------
    ("lora-rank-zero", TJ, {"spec.lora.r": 0}, ["spec.lora.r", "greater than or equal to 1"]),
    ("lora-rank-too-big", TJ, {"spec.lora.r": 512}, ["spec.lora.r", "less than or equal to 256"]),
    ("lora-alpha-too-big", TJ, {"spec.lora.alpha": 1024}, ["spec.lora.alpha", "less than or equal to 512"]),
    ("lora-dropout", TJ, {"spec.lora.dropout": 0.9}, ["spec.lora.dropout", "less than or equal to 0.5"]),
    ("target-modules-word", TJ, {"spec.lora.targetModules": "everything"},
     ["spec.lora.targetModules", "should match '^all-linear$'"]),
    ("target-modules-empty", TJ, {"spec.lora.targetModules": []},
     ["spec.lora.targetModules", "should have at least 1 items"]),
    ("target-module-name", TJ, {"spec.lora.targetModules": ["q_proj", "v proj"]},
     ["spec.lora.targetModules[1]", "should match"]),
    ("validation-split", TJ, {"spec.dataset.validationSplit": 0.7},
     ["spec.dataset.validationSplit", "less than or equal to 0.5"]),
    ("rejected-fraction", TJ, {"spec.dataset.maxRejectedFraction": -0.1},
     ["spec.dataset.maxRejectedFraction", "greater than or equal to 0"]),
    ("two-dataset-sources", TJ, {"spec.dataset.source.uri": "https://example.com/rows.jsonl"},
     ["spec.dataset.source", "exactly one of inline, configMap, pvc, uri, postgres must be set"]),
    ("no-dataset-source", TJ, {"spec.dataset.source.inline": DELETE},
     ["spec.dataset.source", "exactly one of inline, configMap, pvc, uri, postgres must be set"]),
    ("too-many-inline-rows", TJ, {"spec.dataset.source.inline": [{"text": "x"}] * 501},
     ["spec.dataset.source.inline", "must have at most 500 items"]),
    ("dataset-format", TJ, {"spec.dataset.format": "csv"},
     ["spec.dataset.format", 'supported values: "openai", "chatml", "alpaca"']),
    ("postgres-without-secret", TJ,
     {"spec.dataset.source.inline": DELETE, "spec.dataset.source.postgres": {"query": "select 1"}},
     ["spec.dataset.source.postgres.secretRef", "Required value"]),
    ("dataset-pvc-escapes", TJ, {"spec.dataset.source.inline": DELETE,
                                 "spec.dataset.source.pvc": {"claimName": "data", "path": "../../etc/shadow"}},
     ["spec.dataset.source.pvc.path", "must be relative to the volume root and must not contain '..'"]),
    ("two-base-model-sources", TJ, {"spec.baseModel.source.pvc": PVC},
     ["spec.baseModel.source", "exactly one of pvc, uri must be set"]),
    ("base-model-uri-scheme", TJ, {"spec.baseModel.source.uri": "ftp://models/qwen"},
     ["spec.baseModel.source.uri", "should match '^(hf|s3|https)://"]),
    ("base-model-from-s3", TJ, {"spec.baseModel.source.uri": "s3://models/qwen"},
     ["spec.baseModel.source.uri", "only hf://<org>/<repo>[@revision] base models can be trained on",
      "use source.pvc"]),
    ("base-model-revision", TJ, {"spec.baseModel.source.uri": "hf://Qwen/Qwen2.5-0.5B-Instruct@bad..rev"},
     ["spec.baseModel.source.uri", "revision a branch, a tag or a 40-character commit sha"]),
    ("base-model-repo-id", TJ, {"spec.baseModel.source.uri": "hf://Qwen/sub/Qwen2.5"},
     ["spec.baseModel.source.uri", "uri must be hf://<org>/<repo>[@revision]"]),
    ("hub-token-on-a-claim", TJ, {"spec.baseModel.source.uri": DELETE, "spec.baseModel.source.pvc": PVC,
                                  "spec.baseModel.source.tokenSecretRef": {"name": "hf", "key": "token"}},
     ["spec.baseModel.source.tokenSecretRef", "tokenSecretRef applies only to an hf:// uri"]),
    ("method", TJ, {"spec.method": "full"}, ["spec.method", 'supported values: "lora", "qlora"']),
    ("qlora-on-cpu", TJ, {"spec.method": "qlora", "spec.resources": {"gpus": 0}},
     ["spec.resources.gpus", "method qlora needs resources.gpus >= 1"]),
    ("unsloth-on-cpu", TJ, {"spec.backend": "unsloth", "spec.resources": {"gpus": 0}},
     ["spec.resources.gpus", "backend unsloth needs resources.gpus >= 1"]),
    ("negative-gpus", TJ, {"spec.resources": {"gpus": -1}},
     ["spec.resources.gpus", "greater than or equal to 0"]),
    ("memory-quantity", TJ, {"spec.resources": {"memory": "lots"}}, ["spec.resources.memory", "should match"]),
    ("toleration-exists-with-value", TJ, {"spec.resources": {"tolerations": EXISTS_WITH_VALUE}},
     ["spec.resources.tolerations[0].value", "value must be empty when operator is Exists"]),
    ("learning-rate-zero", TJ, {"spec.hyperparameters": {"learningRate": 0}},
     ["spec.hyperparameters.learningRate", "greater than 0"]),
    ("max-seq-length", TJ, {"spec.hyperparameters": {"maxSeqLength": 8}},
     ["spec.hyperparameters.maxSeqLength", "greater than or equal to 16"]),
    ("lr-scheduler", TJ, {"spec.hyperparameters": {"lrScheduler": "exponential"}},
     ["spec.hyperparameters.lrScheduler", 'supported values: "linear", "cosine"']),
    ("checkpoints-kept", TJ, {"spec.checkpoint": {"keep": 50}},
     ["spec.checkpoint.keep", "less than or equal to 20"]),
    ("backoff-limit", TJ, {"spec.backoffLimit": 11}, ["spec.backoffLimit", "less than or equal to 10"]),
    ("model-name-not-dns", TJ, {"spec.output.modelName": "Support_Bot"},
     ["spec.output.modelName", "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"]),
    ("model-name-too-long", TJ, {"spec.output.modelName": "a" * 64},
     ["spec.output.modelName", "may not be more than 63 bytes"]),
    ("no-output", TJ, {"spec.output": DELETE}, ["spec.output", "Required value"]),
    ("output-path-absolute", TJ, {"spec.output.storage.pvc.path": "/adapters"},
     ["spec.output.storage.pvc.path", "must be relative to the volume root"]),
    ("duplicate-serving-target", TJ, {"spec.serving": TWO_SAME_TARGETS},
     ["spec.serving.targets[1]", "Duplicate value"]),
    ("serving-port", TJ, {"spec.serving": {"targets": [{"deployment": "vllm", "port": 70000}]}},
     ["spec.serving.targets[0].port", "less than or equal to 65535"]),
    # -- FineTunedModel ------------------------------------------------------------------------------------------
    ("two-adapter-sources", FTM, {"spec.adapter.pvc": PVC}, ["spec.adapter", "exactly one of pvc, uri must be set"]),
    ("no-adapter-source", FTM, {"spec.adapter.uri": DELETE}, ["spec.adapter", "exactly one of pvc, uri must be set"]),
    ("served-name-spaces", FTM, {"spec.servedName": "Support Bot"}, ["spec.servedName", "should match"]),
    ("no-served-name", FTM, {"spec.servedName": DELETE}, ["spec.servedName", "Required value"]),
    ("ftm-target-port", FTM, {"spec.serving": {"targets": [{"deployment": "vllm", "port": 0}]}},
     ["spec.serving.targets[0].port", "greater than or equal to 1"]),
    # -- ModelComparison -----------------------------------------------------------------------------------------
    ("baseline-both", MC, {"spec.baseline.fineTunedModelRef": {"name": "other"}},
     ["spec.baseline", "exactly one of servedName, fineTunedModelRef must be set"]),
    ("candidate-neither", MC, {"spec.candidate.servedName": DELETE},
     ["spec.candidate", "exactly one of servedName, fineTunedModelRef must be set"]),
    ("candidate-is-baseline", MC, {"spec.candidate.servedName": "Qwen/Qwen2.5-0.5B-Instruct"},
     ["spec.candidate", "candidate must differ from baseline"]),
    ("no-endpoint", MC, {"spec.endpoint": DELETE},
     ["spec", "endpoint is required unless both baseline.endpoint and candidate.endpoint are set"]),
    ("endpoint-both", MC, {"spec.endpoint.deployment": "vllm"},
     ["spec.endpoint", "exactly one of service, deployment must be set"]),
    ("prompts-two-sources", MC, {"spec.prompts.fromTrainingJob": {"name": "tj"}},
     ["spec.prompts", "exactly one of fromTrainingJob, inline, configMap, pvc must be set"]),
    ("temperature", MC, {"spec.sampling": {"temperature": 3}},
     ["spec.sampling.temperature", "less than or equal to 2"]),
    ("samples-zero", MC, {"spec.samples": 0}, ["spec.samples", "greater than or equal to 1"]),
    ("judge-without-model", MC, {"spec.judge": {"endpoint": {"service": "judge"}}},
     ["spec.judge.model", "Required value"]),
]


def mutate(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = doc
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            del node[leaf]
        else:
            node[leaf] = value
    return doc


def test_enough_distinct_cases() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize(("example_file", "changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_server_rejects(module_custom: Any, example: Any, example_file: str, changes: dict[str, Any],
                        expected: list[str]) -> None:
    manifest = mutate(example(example_file), changes)

    with pytest.raises(ApiError) as info:
        module_custom.create(manifest, dry_run=True)

    assert info.value.status == 422, info.value.message
    for fragment in expected:
        assert fragment in info.value.message, f"{fragment!r} not in: {info.value.message}"
    with pytest.raises(InvalidResource):
        parse_resource(manifest)
