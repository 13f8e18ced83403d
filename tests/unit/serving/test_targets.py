"""What a vLLM Deployment can serve, read from its pod template."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubetune.serving.targets import (
    AdapterNotMounted,
    adapter_path_in_pod,
    flag_value,
    is_ready,
    pod_selector,
    prepare_patch,
    target_facts,
)


def deployment(args: list[str], env: list[dict[str, str]] | None = None, mounts: list[dict[str, Any]] | None = None,
               volumes: list[dict[str, Any]] | None = None, command: list[str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "vllm"},
        "spec": {
            "selector": {"matchLabels": {"app": "vllm", "tier": "serving"}},
            "template": {"spec": {
                "containers": [
                    {"name": "sidecar", "image": "envoy", "ports": [{"containerPort": 9901}]},
                    {"name": "vllm", "command": command or ["vllm", "serve"], "args": args, "env": env or [],
                     "ports": [{"containerPort": 8000}], "volumeMounts": mounts or []},
                ],
                "volumes": volumes or [],
            }},
        },
    }


READY_ENV = [{"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"}]


def test_a_lora_ready_deployment() -> None:
    facts = target_facts(deployment(["google/gemma-3-12b-it", "--enable-lora", "--max-lora-rank=64"], READY_ENV),
                         8000)
    assert facts.lora_ready and facts.missing == ()
    assert facts.max_lora_rank == 64
    assert facts.served_names == ("google/gemma-3-12b-it",)


@pytest.mark.parametrize(("args", "env", "missing"), [
    (["m"], READY_ENV, ("the argument --enable-lora",)),
    (["m", "--enable-lora"], [], ("the environment variable VLLM_ALLOW_RUNTIME_LORA_UPDATING=True",)),
    (["m", "--enable-lora"], [{"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "False"}],
     ("the environment variable VLLM_ALLOW_RUNTIME_LORA_UPDATING=True",)),
])
def test_what_is_missing_is_named(args: list[str], env: list[dict[str, str]], missing: tuple[str, ...]) -> None:
    facts = target_facts(deployment(args, env), 8000)
    assert not facts.lora_ready
    assert facts.missing == missing


def test_served_names_and_default_rank() -> None:
    facts = target_facts(deployment(["--model", "/models/base", "--served-model-name", "a", "b", "--enable-lora"],
                                    command=["python", "-m", "vllm.entrypoints.openai.api_server"]), 8000)
    assert facts.served_names == ("a", "b")
    assert facts.max_lora_rank == 16  # vLLM's default


def test_flag_value_last_wins() -> None:
    assert flag_value(["--port", "1", "--port=2"], "--port") == "2"
    assert flag_value(["--port"], "--port") is None


@pytest.mark.parametrize(("mount", "path", "expected"), [
    ({"name": "ad", "mountPath": "/adapters"}, "bot/run/adapter", "/adapters/bot/run/adapter"),
    ({"name": "ad", "mountPath": "/adapters", "subPath": "bot"}, "bot/run/adapter", "/adapters/run/adapter"),
    ({"name": "ad", "mountPath": "/a"}, "", "/a"),
])
def test_adapter_path_follows_the_mount(mount: dict[str, Any], path: str, expected: str) -> None:
    volumes = [{"name": "ad", "persistentVolumeClaim": {"claimName": "adapters"}}]
    dep = deployment(["m"], mounts=[mount], volumes=volumes)
    assert adapter_path_in_pod(dep, 8000, "adapters", path) == expected


def test_adapter_outside_the_mounted_subpath_or_claim_is_not_mounted() -> None:
    dep = deployment(["m"], mounts=[{"name": "ad", "mountPath": "/adapters", "subPath": "other"}],
                     volumes=[{"name": "ad", "persistentVolumeClaim": {"claimName": "adapters"}}])
    with pytest.raises(AdapterNotMounted, match="does not mount PersistentVolumeClaim adapters"):
        adapter_path_in_pod(dep, 8000, "adapters", "bot/adapter")
    with pytest.raises(AdapterNotMounted, match="prepare: true"):
        adapter_path_in_pod(dep, 8000, "elsewhere", "bot/adapter")


def test_prepare_patch_adds_only_what_is_missing() -> None:
    dep = deployment(["m", "--max-lora-rank", "8"])
    patch = prepare_patch(dep, 8000, "adapters", min_rank=16)
    assert patch is not None
    containers = patch["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["sidecar", "vllm"]
    vllm = containers[1]
    assert vllm["args"] == ["m", "--max-lora-rank", "8", "--enable-lora", "--max-lora-rank", "16"]
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in vllm["env"]
    assert vllm["volumeMounts"] == [{"name": "kubetune-adapters", "mountPath": "/adapters/adapters", "readOnly": True}]
    assert target_facts({**dep, "spec": {**dep["spec"], "template": patch["spec"]["template"]}}, 8000).max_lora_rank \
        == 16
    prepared = copy.deepcopy(dep)
    prepared["spec"]["template"] = patch["spec"]["template"]
    assert prepare_patch(prepared, 8000, "adapters", min_rank=16) is None  # idempotent


def test_pod_selector_and_readiness() -> None:
    dep = deployment(["m"])
    dep["spec"]["selector"]["matchExpressions"] = [{"key": "track", "operator": "In", "values": ["stable", "canary"]},
                                                   {"key": "legacy", "operator": "DoesNotExist"}]
    assert pod_selector(dep) == "app=vllm,tier=serving,track in (stable,canary),!legacy"
    ready = {"metadata": {}, "status": {"podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert is_ready(ready)
    assert not is_ready({**ready, "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
    assert not is_ready({"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
