"""Manifests of the mirrored kinds for the tests that run against the local cluster."""

from __future__ import annotations

from typing import Any

from kubetune.api import GROUP, VERSION
from kubetune_devcluster.kubeapi import KubeREST

Json = dict[str, Any]


def path(plural: str, namespace: str, name: str | None = None) -> str:
    return KubeREST.path(f"{GROUP}/{VERSION}", plural, namespace, name)


def trainingjob(name: str, source: Json | None = None, serving: Json | None = None) -> Json:
    spec: Json = {
        "baseModel": {"name": "tiny-llama", "source": {"pvc": {"claimName": "models", "path": "tiny"}}},
        "dataset": {"format": "prompt-completion",
                    "source": source or {"inline": [{"prompt": "hi", "completion": "hello"}]}},
        "hyperparameters": {"maxSteps": 10},
        "output": {"modelName": name, "storage": {"pvc": {"claimName": "adapters"}}},
    }
    if serving:
        spec["serving"] = serving
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": {"name": name}, "spec": spec}


def finetunedmodel(name: str, serving: Json | None = None) -> Json:
    spec: Json = {"baseModel": {"name": "tiny-llama"}, "adapter": {"pvc": {"claimName": "adapters", "path": name}},
                  "servedName": name}
    if serving:
        spec["serving"] = serving
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "FineTunedModel", "metadata": {"name": name}, "spec": spec}


def secret(name: str, key: str, value: str) -> Json:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {key: value}}
