"""parse_resource dispatches on kind, applies the same defaults as the CRD, and names the offending field."""

from __future__ import annotations

import copy
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from kubetune.api import (
    API_VERSION,
    FineTunedModel,
    InvalidResource,
    ModelComparison,
    TrainingJob,
    parse_resource,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def example(name: str) -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load((EXAMPLES / name).read_text()))


@pytest.mark.parametrize(("file_name", "model"), [
    ("trainingjob.yaml", TrainingJob), ("trainingjob-minimal.yaml", TrainingJob),
    ("finetunedmodel.yaml", FineTunedModel), ("finetunedmodel-minimal.yaml", FineTunedModel),
    ("modelcomparison.yaml", ModelComparison), ("modelcomparison-minimal.yaml", ModelComparison),
])
def test_examples_parse_into_their_kind(file_name: str, model: type) -> None:
    assert type(parse_resource(example(file_name))) is model


def test_read_only_mappings_are_accepted() -> None:
    # kopf hands handlers read-only Mapping views, not dicts.
    def frozen(value: Any) -> Any:
        if isinstance(value, dict):
            return MappingProxyType({k: frozen(v) for k, v in value.items()})
        return [frozen(v) for v in value] if isinstance(value, list) else value

    doc = example("modelcomparison.yaml")

    assert parse_resource(frozen(doc)) == parse_resource(doc)


def test_defaults_and_snake_case_access() -> None:
    tj = parse_resource(example("trainingjob-minimal.yaml"))

    assert isinstance(tj, TrainingJob)
    assert tj.spec.lora.r == 16 and tj.spec.lora.target_modules == "all-linear"
    assert tj.spec.hyperparameters.learning_rate == 2e-4
    assert tj.spec.resources.gpus == 1 and tj.spec.resources.gpu_resource_name == "nvidia.com/gpu"
    assert tj.spec.output.storage.pvc.claim_name == "adapters"
    assert tj.status.conditions == [] and tj.status.phase is None
    assert tj.metadata.name == "hello-lora"


def test_dump_is_camel_case_without_unset_fields() -> None:
    tj = parse_resource(example("trainingjob-minimal.yaml"))

    wire = tj.to_dict()

    assert wire["apiVersion"] == API_VERSION and wire["kind"] == "TrainingJob"
    assert wire["spec"]["hyperparameters"]["gradientAccumulationSteps"] == 1
    assert "maxSteps" not in wire["spec"]["hyperparameters"]
    assert "serving" not in wire["spec"]
    assert parse_resource(wire) == tj


def test_metadata_keeps_fields_it_does_not_model() -> None:
    doc = example("finetunedmodel-minimal.yaml")
    doc["metadata"].update(uid="abc", generation=3, finalizers=["kubetune.dev/unload"])

    ftm = parse_resource(doc)

    assert ftm.metadata.uid == "abc" and ftm.metadata.generation == 3
    assert ftm.to_dict()["metadata"]["finalizers"] == ["kubetune.dev/unload"]


def test_status_parses_conditions_and_times() -> None:
    doc = example("trainingjob-minimal.yaml")
    doc["status"] = {
        "phase": "Running", "startTime": "2025-03-01T12:00:00Z",
        "progress": {"step": 120, "totalSteps": 900, "loss": 1.23, "percent": 13.3},
        "conditions": [{"type": "Running", "status": "True", "lastTransitionTime": "2025-03-01T12:00:00Z",
                        "reason": "PodRunning", "message": "", "observedGeneration": 1}],
    }

    tj = parse_resource(doc)

    assert isinstance(tj, TrainingJob)
    assert tj.status.progress is not None and tj.status.progress.total_steps == 900
    assert tj.status.start_time is not None and tj.status.start_time.year == 2025
    assert tj.status.conditions[0].observed_generation == 1
    assert tj.to_dict()["status"]["startTime"] == "2025-03-01T12:00:00Z"


def test_target_modules_accepts_a_list() -> None:
    doc = example("trainingjob-minimal.yaml")
    doc["spec"]["lora"] = {"targetModules": ["q_proj", "v_proj"]}

    tj = parse_resource(doc)

    assert isinstance(tj, TrainingJob) and tj.spec.lora.target_modules == ["q_proj", "v_proj"]


def _set(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, leaf = dotted.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return doc


@pytest.mark.parametrize(("file_name", "dotted", "value", "path", "problem"), [
    ("trainingjob-minimal.yaml", "spec.lora.r", 0, "spec.lora.r", "greater than or equal to 1"),
    ("trainingjob-minimal.yaml", "spec.baseModel.source.pvc", {"claimName": "m"}, "spec.baseModel.source",
     "exactly one of pvc, uri must be set"),
    ("trainingjob-minimal.yaml", "spec.resources", {"gpus": 0, "tolerations": []}, "spec",
     "backend unsloth needs resources.gpus >= 1"),
    ("trainingjob-minimal.yaml", "spec.lora.targetModules", 7, "spec.lora.targetModules", "all-linear"),
    ("trainingjob-minimal.yaml", "spec.resources.memory", "lots", "spec.resources.memory", "not a Kubernetes quantity"),
    ("trainingjob-minimal.yaml", "spec.resources.cpu", [8], "spec.resources.cpu", "not a Kubernetes quantity"),
    ("trainingjob-minimal.yaml", "spec.output.storage.pvc.path", "a/../../b", "spec.output.storage.pvc.path",
     "must not contain '..'"),
    ("trainingjob-minimal.yaml", "spec.serving", {"targets": [{"deployment": "v"}, {"deployment": "v"}]},
     "spec.serving", "repeated: v"),
    ("finetunedmodel-minimal.yaml", "spec.servedName", "Bad Name", "spec.servedName", "should match pattern"),
    ("modelcomparison-minimal.yaml", "spec.prompts.inline", [{"prompt": ""}], "spec.prompts.inline[0].prompt",
     "at least 1 character"),
    ("modelcomparison-minimal.yaml", "spec.candidate.servedName", "Qwen/Qwen2.5-0.5B-Instruct", "spec",
     "candidate must differ from baseline"),
])
def test_invalid_field_is_named(file_name: str, dotted: str, value: Any, path: str, problem: str) -> None:
    doc = _set(example(file_name), dotted, value)
    if dotted == "spec.resources":
        doc["spec"]["backend"] = "unsloth"

    with pytest.raises(InvalidResource) as info:
        parse_resource(doc)

    paths = [p for p, _ in info.value.errors]
    assert path in paths, info.value.errors
    assert problem in str(info.value)
    assert str(info.value).startswith(f"invalid {doc['kind']} {doc['metadata']['name']}: ")


def test_missing_required_field_is_named() -> None:
    doc = example("trainingjob-minimal.yaml")
    del doc["spec"]["output"]

    with pytest.raises(InvalidResource, match=r"spec\.output: Field required"):
        parse_resource(doc)


@pytest.mark.parametrize(("kind", "message"), [
    ("Deployment", "kind: must be one of TrainingJob, FineTunedModel, ModelComparison, got 'Deployment'"),
    (None, "kind: must be one of"),
])
def test_unknown_kind_is_refused(kind: str | None, message: str) -> None:
    doc = example("trainingjob-minimal.yaml")
    doc["kind"] = kind

    with pytest.raises(InvalidResource, match=message):
        parse_resource(doc)


def test_other_api_version_is_refused() -> None:
    doc = example("trainingjob-minimal.yaml")
    doc["apiVersion"] = "kubetune.dev/v1"

    with pytest.raises(InvalidResource, match=r"apiVersion: must be kubetune\.dev/v1alpha1"):
        parse_resource(doc)


def test_error_is_a_value_error_chained_from_pydantic() -> None:
    doc = _set(example("trainingjob-minimal.yaml"), "spec.lora.alpha", 0)

    with pytest.raises(ValueError) as info:
        parse_resource(doc)

    assert info.value.__cause__ is not None
