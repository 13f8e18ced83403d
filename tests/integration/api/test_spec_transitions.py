"""Rules on updates: a started TrainingJob's spec is frozen except suspend; a FineTunedModel's identity (servedName,
adapter, base model) is immutable while its serving targets are not; a ModelComparison's spec is immutable."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune_devcluster.kubeapi import ApiError

pytestmark = pytest.mark.cluster


def rejected(call: Any, *fragments: str) -> None:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.status == 422, info.value.message
    for fragment in fragments:
        assert fragment in info.value.message, f"{fragment!r} not in: {info.value.message}"


def test_trainingjob_spec_frozen_once_started_except_suspend(custom: Any, example: Any) -> None:
    name = custom.create(example("trainingjob-minimal.yaml"))["metadata"]["name"]

    # Before the training pod starts, the spec can still be corrected.
    custom.patch("TrainingJob", name, {"spec": {"lora": {"r": 8}}})
    custom.patch("TrainingJob", name, {"status": {"phase": "Running", "startTime": "2025-01-01T00:00:00Z"}}, "status")

    for change in ({"lora": {"r": 32}}, {"dataset": {"validationSplit": 0.1}},
                   {"serving": {"targets": [{"deployment": "vllm"}]}}, {"image": "trainer:v2"}):
        rejected(lambda change=change: custom.patch("TrainingJob", name, {"spec": change}),
                 "spec: Invalid value", "spec is immutable once training has started", "except spec.suspend")

    suspended = custom.patch("TrainingJob", name, {"spec": {"suspend": True}})
    assert suspended["spec"]["suspend"] is True and suspended["spec"]["lora"]["r"] == 8
    # Status updates go on while the spec is frozen.
    custom.patch("TrainingJob", name, {"status": {"phase": "Suspended"}}, "status")


def test_finetunedmodel_identity_is_immutable(custom: Any, example: Any) -> None:
    name = custom.create(example("finetunedmodel-minimal.yaml"))["metadata"]["name"]

    rejected(lambda: custom.patch("FineTunedModel", name, {"spec": {"servedName": "hello-lora-v2"}}),
             "spec.servedName", "servedName is immutable", "needs a new servedName")
    rejected(lambda: custom.patch("FineTunedModel", name, {"spec": {"adapter": {"uri": "hf://example-org/other"}}}),
             "spec.adapter", "adapter is immutable")
    rejected(lambda: custom.patch("FineTunedModel", name, {"spec": {"baseModel": {"name": "other/base"}}}),
             "spec.baseModel", "baseModel is immutable")

    served = custom.patch("FineTunedModel", name, {"spec": {"serving": {"targets": [{"deployment": "vllm"}]}}})
    assert served["spec"]["serving"]["targets"][0]["deployment"] == "vllm"


def test_modelcomparison_spec_is_immutable(custom: Any, example: Any) -> None:
    name = custom.create(example("modelcomparison-minimal.yaml"))["metadata"]["name"]

    rejected(lambda: custom.patch("ModelComparison", name, {"spec": {"samples": 50}}),
             "spec: Invalid value", "spec is immutable: create a new ModelComparison")
    assert custom.get("ModelComparison", name)["spec"]["samples"] == 200
