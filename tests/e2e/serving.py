"""A vLLM CPU Deployment shared by the serving and comparison tests, and reading what it serves."""

from __future__ import annotations

import json
from typing import Any

from kubetune_devcluster import vllm_server
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .conftest import BASE_MODEL_NAME
from .helpers import ftm_path

Json = dict[str, Any]


def vllm_pods(kube: KubeREST, ns: str, app: str = "vllm", ready_only: bool = True) -> list[Json]:
    pods = kube.get(KubeREST.path_for("Pod", ns), labelSelector=f"app={app}")["items"]
    if not ready_only:
        return pods
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]


def served_ids(pod: Json, api_key: str | None = None) -> set[str]:
    return {m["id"] for m in vllm_server.models(f"http://{pod['status']['podIP']}:8000", api_key)}


def get_ftm(kube: KubeREST, ns: str, name: str) -> Json:
    return kube.get(ftm_path(ns, name))


def wait_ftm_phase(kube: KubeREST, ns: str, name: str, phases: tuple[str, ...], operator: OperatorProcess,
                   timeout: float = 120) -> Json:
    def reached() -> Json | None:
        ftm = kube.get_or_none(ftm_path(ns, name))
        return ftm if ftm and ftm.get("status", {}).get("phase") in phases else None

    try:
        return wait_for(reached, timeout, interval=0.1, what=f"FineTunedModel {name} to reach {phases}")
    except AssertionError as e:
        status = json.dumps((kube.get_or_none(ftm_path(ns, name)) or {}).get("status"), indent=1)
        raise AssertionError(f"{e}\nstatus: {status}\noperator log:\n{operator.log_tail()}") from None


def finetuned_model(name: str, adapter_path: str, targets: list[Json] | None = None) -> Json:
    spec: Json = {"baseModel": {"name": BASE_MODEL_NAME},
                  "adapter": {"pvc": {"claimName": "adapters", "path": adapter_path}}, "servedName": name}
    if targets is not None:
        spec["serving"] = {"targets": targets}
    return {"apiVersion": "kubetune.dev/v1alpha1", "kind": "FineTunedModel", "metadata": {"name": name},
            "spec": spec}


