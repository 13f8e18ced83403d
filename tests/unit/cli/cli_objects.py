"""Realistic TrainingJob and FineTunedModel bodies, as the API server returns them, for the CLI's unit tests."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def trainingjob(name: str = "facts", phase: str = "Running", **status: Any) -> Json:
    base: Json = {
        "apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": "kubetune-demo", "uid": "0c1d2e3f-aaaa-bbbb-cccc-000000000001",
                     "creationTimestamp": "2026-12-01T10:00:00Z"},
        "spec": {"baseModel": {"name": "tiny-llama", "source": {"pvc": {"claimName": "models", "path": "tiny-llama"}}},
                 "dataset": {"source": {"inline": [{"text": "x"}]}},
                 "output": {"modelName": "facts", "storage": {"pvc": {"claimName": "adapters"}}}},
        "status": {"phase": phase, **status},
    }
    return base


def finetunedmodel(name: str, model: str | None, loaded: list[tuple[str, bool]], deployment: str = "vllm",
                   namespace: str = "kubetune-demo") -> Json:
    labels = {"kubetune.dev/model-name": model} if model else {}
    pods = [{"name": pod, "ip": f"127.9.0.{i + 1}", "loaded": ok,
             **({"loadedAt": "2026-12-01T10:05:00Z"} if ok else {"message": "connection refused"})}
            for i, (pod, ok) in enumerate(loaded)]
    n_loaded = sum(ok for _, ok in loaded)
    return {
        "apiVersion": "kubetune.dev/v1alpha1", "kind": "FineTunedModel",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "creationTimestamp": "2026-12-01T10:04:00Z"},
        "spec": {"baseModel": {"name": "tiny-llama"}, "servedName": name,
                 "adapter": {"pvc": {"claimName": "adapters", "path": f"facts/{name}/adapter"}},
                 "serving": {"targets": [{"deployment": deployment, "port": 8000}]}},
        "status": {"phase": "Serving" if n_loaded == len(loaded) else "Degraded",
                   "loaded": f"{n_loaded}/{len(loaded)}",
                   "targets": [{"deployment": deployment, "readyReplicas": len(loaded), "loadedReplicas": n_loaded,
                                "pods": pods}]},
    }
