"""TrainingJob + its result -> the FineTunedModel that registers the adapter."""

from __future__ import annotations

from typing import Any

from ..api import API_VERSION, TrainingJob
from ..api.trainer import TrainerResult
from .naming import MODEL_NAME, TRAININGJOB, TRAININGJOB_UID, common_labels
from .training import adapter_path


def model_version_name(model_name: str, version: int) -> str:
    """``support-bot-v3``: served names are immutable per version, so each training run gets the next one."""
    return f"{model_name}-v{version}"


def parse_version(model_name: str, name: str) -> int | None:
    """The N of ``<model_name>-v<N>``, or None when the name is not one of this model's versions."""
    prefix = f"{model_name}-v"
    if name.startswith(prefix) and name[len(prefix):].isdigit():
        return int(name[len(prefix):])
    return None


def build_finetuned_model(tj: TrainingJob, version: int, result: TrainerResult | None) -> dict[str, Any]:
    """The FineTunedModel for a succeeded TrainingJob. No owner reference: models outlive the jobs that made them."""
    spec = tj.spec
    name = model_version_name(spec.output.model_name, version)
    origin: dict[str, Any] = {"trainingJob": tj.metadata.name}
    if result is not None:
        if result.dataset_stats and result.dataset_stats.sha256:
            origin["datasetSha256"] = result.dataset_stats.sha256
        if result.metrics:
            origin["metrics"] = result.metrics.model_dump(by_alias=True, exclude_none=True)
    body: dict[str, Any] = {
        "apiVersion": API_VERSION, "kind": "FineTunedModel",
        "metadata": {
            "name": name, "namespace": tj.metadata.namespace,
            "labels": {**common_labels("model"), MODEL_NAME: spec.output.model_name,
                       TRAININGJOB: tj.metadata.name or "", TRAININGJOB_UID: tj.metadata.uid or ""},
        },
        "spec": {
            "baseModel": {"name": spec.base_model.name},
            "adapter": {"pvc": {"claimName": spec.output.storage.pvc.claim_name, "path": adapter_path(tj)}},
            "servedName": name,
            "origin": origin,
        },
    }
    if spec.serving and spec.serving.targets:
        body["spec"]["serving"] = spec.serving.model_dump(by_alias=True, exclude_none=True)
    return body
