"""Run the real vLLM OpenAI server (CPU build) on the tiny model, as a local process or as a Deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lifetime import die_with_parent

# vLLM refuses runtime LoRA loading without this; the CPU build also needs a KV cache size and no hub access. The
# model runs in the engine-core process rather than a third one of its own: one process (and its memory) fewer per
# replica, and no hop between processes for each step.
VLLM_ENV = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
    "OMP_NUM_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "VLLM_LOGGING_LEVEL": "WARNING",
}


def vllm_args(model: str, served_name: str, host: str, port: int, max_lora_rank: int = 8, max_loras: int = 4,
              api_key: str | None = None, extra: list[str] | None = None) -> list[str]:
    """The server's arguments (without the interpreter), LoRA enabled."""
    args = [
        "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--served-model-name", served_name,
        "--host", host, "--port", str(port), "--enable-lora", "--max-lora-rank", str(max_lora_rank),
        "--max-loras", str(max_loras), "--max-model-len", "128", "--dtype", "float32",
        "--disable-log-stats",
    ]
    if api_key:
        args += ["--api-key", api_key]
    return args + list(extra or [])


@dataclass
class VLLMProcess:
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


def start_vllm(model: Path, served_name: str, host: str, port: int, log_path: Path, timeout: float = 240,
               **kwargs: Any) -> VLLMProcess:
    """Start a server as a local process and wait until ``/v1/models`` answers."""
    argv = [sys.executable, *vllm_args(str(model), served_name, host, port, **kwargs)]
    with log_path.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                                env={**os.environ, **VLLM_ENV})
    server = VLLMProcess(proc, f"http://{host}:{port}", log_path)
    wait_ready(server.base_url, timeout, proc, log_path, api_key=kwargs.get("api_key"))
    return server


def wait_ready(base_url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None,
               log_path: Path | None = None, api_key: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    while True:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:] if log_path else ""
            raise RuntimeError(f"vLLM exited with {proc.returncode}:\n{tail}")
        try:
            request = urllib.request.Request(f"{base_url}/v1/models", headers=headers)
            with urllib.request.urlopen(request, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"vLLM at {base_url} not ready after {timeout}s")
        time.sleep(0.5)


def vllm_deployment(name: str, model_dir: Path, served_name: str = "tiny-llama", replicas: int = 2,
                    port: int = 8000, max_lora_rank: int = 8, api_key_secret: tuple[str, str] | None = None,
                    lora_ready: bool = True, extra_volumes: list[dict[str, Any]] | None = None,
                    extra_mounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A vLLM Deployment for the process node: the tiny model from a hostPath, the server on the pod's IP."""
    env = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    env += [{"name": k, "value": v} for k, v in VLLM_ENV.items()
            if lora_ready or k != "VLLM_ALLOW_RUNTIME_LORA_UPDATING"]
    args = vllm_args("/models/base", served_name, "$(POD_IP)", port, max_lora_rank=max_lora_rank)
    if not lora_ready:
        args.remove("--enable-lora")
    if api_key_secret:
        env.append({"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": api_key_secret[0],
                                                                           "key": api_key_secret[1]}}})
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{
                        "name": "vllm", "image": "vllm/vllm-openai-cpu:v0.32.0",
                        "command": ["python"], "args": args, "env": env,
                        "ports": [{"name": "http", "containerPort": port}],
                        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 1,
                                           "failureThreshold": 1},
                        "volumeMounts": [{"name": "base", "mountPath": "/models/base", "readOnly": True},
                                         *(extra_mounts or [])],
                    }],
                    "volumes": [{"name": "base", "hostPath": {"path": str(model_dir), "type": "Directory"}},
                                *(extra_volumes or [])],
                },
            },
        },
    }


def completion(base_url: str, model: str, prompt: str, max_tokens: int = 8, api_key: str | None = None,
               timeout: float = 60) -> str:
    """A greedy completion, for comparing outputs of the base model and an adapter."""
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0,
                       "seed": 0}).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(f"{base_url}/v1/completions", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return str(json.loads(resp.read())["choices"][0]["text"])


def models(base_url: str, api_key: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = urllib.request.Request(f"{base_url}/v1/models", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return list(json.loads(resp.read())["data"])
