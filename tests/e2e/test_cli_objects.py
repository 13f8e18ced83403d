"""kubetune compare creates a ModelComparison the API server accepts, and kubetune models -o wide lists each pod, in a
namespace the operator does not watch: the statuses are written here, the way the operator writes them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST

from .cli import kubetune
from .helpers import ftm_path

pytestmark = [pytest.mark.cluster]
MC = "kubetune.dev/v1alpha1"


@pytest.fixture
def namespace_prefix() -> str:
    return "cli-"  # not e2e-: the operator leaves these objects alone


def served_model(kube: KubeREST, namespace: str, name: str, pods: list[tuple[str, bool]]) -> None:
    kube.create(ftm_path(namespace), {
        "apiVersion": MC, "kind": "FineTunedModel",
        "metadata": {"name": name, "labels": {"kubetune.dev/model-name": name.rsplit("-v", 1)[0]}},
        "spec": {"baseModel": {"name": "tiny-llama"}, "servedName": name,
                 "adapter": {"pvc": {"claimName": "adapters", "path": f"facts/{name}"}},
                 "serving": {"targets": [{"deployment": "vllm", "port": 8000}]}}})
    loaded = sum(ok for _, ok in pods)
    kube.patch(ftm_path(namespace, name) + "/status", {"status": {
        "phase": "Serving" if loaded == len(pods) else "Degraded", "loaded": f"{loaded}/{len(pods)}",
        "targets": [{"deployment": "vllm", "readyReplicas": len(pods), "loadedReplicas": loaded,
                     "pods": [{"name": p, "ip": f"127.0.0.{i + 1}", "loaded": ok,
                               **({"loadedAt": "2026-12-01T10:00:00Z"} if ok else {"message": "timed out"})}
                              for i, (p, ok) in enumerate(pods)]}]}})


def test_models_shows_versions_and_where_each_is_loaded(cluster: LocalCluster, kube: KubeREST, crds: object,
                                                        namespace: str) -> None:
    served_model(kube, namespace, "facts-v1", [("vllm-a", True), ("vllm-b", True)])
    served_model(kube, namespace, "facts-v2", [("vllm-a", True), ("vllm-b", False)])

    table = kubetune(cluster, "models", "-n", namespace)
    assert table.code == 0, table.err
    assert re.search(r"^facts\s+v1\s+facts-v1\s+Serving\s+2/2\s+vllm 2/2", table.out, re.M), table.out
    assert re.search(r"^\s+v2\s+facts-v2\s+Degraded\s+1/2\s+vllm 1/2", table.out, re.M), table.out
    wide = kubetune(cluster, "models", "-n", namespace, "-o", "wide").out
    assert re.search(r"^facts\s+v2\s+facts-v2\s+vllm\s+vllm-b\s+127\.0\.0\.2\s+no: timed out", wide, re.M), wide
    assert len([line for line in wide.splitlines() if line.startswith("facts ")]) == 4


def test_compare_creates_a_comparison_from_a_prompts_file(cluster: LocalCluster, kube: KubeREST, crds: object,
                                                          namespace: str, tmp_path: Path) -> None:
    served_model(kube, namespace, "facts-v1", [("vllm-a", True)])
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"question {i}?", "reference": f"answer {i}"}) + "\n"
                               for i in range(3)))

    run = kubetune(cluster, "compare", "tiny-llama", "facts-v1", "--prompts", prompts, "--judge", "qwen-judge",
                   "--samples", "3", "--name", "ab", "-n", namespace)

    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "modelcomparison.kubetune.dev/ab created"
    spec = kube.get(KubeREST.path(MC, "modelcomparisons", namespace, "ab"))["spec"]
    assert spec["baseline"] == {"servedName": "tiny-llama"}
    assert spec["candidate"] == {"fineTunedModelRef": {"name": "facts-v1"}}
    assert spec["endpoint"] == {"deployment": "vllm", "port": 8000}  # the FineTunedModel's serving target
    assert spec["prompts"]["inline"][2] == {"prompt": "question 2?", "reference": "answer 2"}
    assert spec["judge"]["model"] == "qwen-judge" and spec["samples"] == 3
    listed = kubetune(cluster, "get", "mc", "-n", namespace, "-o", "wide")
    assert re.search(r"^ab\s+-\s+-\s+-\s+tiny-llama\s+ftm/facts-v1\s+", listed.out, re.M), listed.out


def test_compare_puts_many_prompts_in_a_configmap_owned_by_the_comparison(
        cluster: LocalCluster, kube: KubeREST, crds: object, namespace: str, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}]}) + "\n"
                               for i in range(300)))

    run = kubetune(cluster, "compare", "tiny-llama", "other-model", "--prompts", prompts, "--endpoint",
                   "service/vllm:8001", "-n", namespace)

    assert run.code == 0, run.err
    name = run.out.split()[0].split("/", 1)[1]
    assert name.startswith("other-model-vs-tiny-llama-")
    mc = kube.get(KubeREST.path(MC, "modelcomparisons", namespace, name))
    assert mc["spec"]["endpoint"] == {"service": "vllm", "port": 8001}
    ref = mc["spec"]["prompts"]["configMap"]
    configmap = kube.get(KubeREST.path_for("ConfigMap", namespace, ref["name"]))
    assert len(configmap["data"][ref["key"]].splitlines()) == 300
    assert configmap["metadata"]["ownerReferences"][0]["uid"] == mc["metadata"]["uid"]
    as_yaml = yaml.safe_load(kubetune(cluster, "get", "mc", name, "-n", namespace, "-o", "yaml").out)
    assert as_yaml["metadata"]["uid"] == mc["metadata"]["uid"]
