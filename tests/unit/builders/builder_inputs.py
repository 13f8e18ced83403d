"""TrainingJobs as the API server hands them to the operator, parsed by ``parse_resource``, for builder tests."""

from __future__ import annotations

import copy
from typing import Any

from kubetune.api import TrainingJob, parse_resource

UID = "4f9c2a7e-1b3d-4c5e-8f60-7a8b9c0d1e2f"
ROWS = [
    {"messages": [{"role": "user", "content": "Où est ma commande ?"},
                  {"role": "assistant", "content": "Elle part mardi."}]},
    {"messages": [{"role": "user", "content": "Reset my password"},
                  {"role": "assistant", "content": "Use the link on the sign-in page."}]},
]


def trainingjob_body(name: str = "support-bot", namespace: str = "team-a", uid: str = UID, generation: int = 1,
                     labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A TrainingJob dict; each keyword replaces that spec field (dicts merge one level deep)."""
    base: dict[str, Any] = {
        "baseModel": {"name": "google/gemma-3-12b-it",
                      "source": {"pvc": {"claimName": "models", "path": "gemma-3-12b-it"}}},
        "dataset": {"format": "openai", "source": {"inline": copy.deepcopy(ROWS)}, "validationSplit": 0.1},
        "lora": {"r": 8, "alpha": 16, "targetModules": ["q_proj", "v_proj"]},
        "hyperparameters": {"epochs": 2, "batchSize": 4, "learningRate": 1e-4, "maxSeqLength": 512, "seed": 7},
        "resources": {"gpus": 1},
        "checkpoint": {"everySteps": 50, "keep": 3},
        "output": {"modelName": "support-bot", "storage": {"pvc": {"claimName": "adapters", "path": "runs"}}},
    }
    for key, value in spec.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid, "generation": generation,
                                "resourceVersion": "4711"}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob", "metadata": metadata, "spec": base}


def make_trainingjob(**kwargs: Any) -> TrainingJob:
    tj = parse_resource(trainingjob_body(**kwargs))
    assert isinstance(tj, TrainingJob)
    return tj
