"""Every cluster command, against a missing object, an unreachable cluster and a bad flag: one line, no traceback,
and the exit code a script can act on (3 for the cluster or a missing object, 2 for usage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubetune_devcluster.controlplane import LocalCluster

from .cli import kubetune

pytestmark = [pytest.mark.cluster]

REPO = Path(__file__).resolve().parents[2]
DEMO_JOB = REPO / "examples" / "demo" / "03-trainingjob.yaml"


def prompts_file(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "What is the capital of France?", "reference": "Paris"}) + "\n")
    return path


def test_missing_objects(cluster: LocalCluster, crds: object, namespace: str, tmp_path: Path) -> None:
    ns = ("-n", namespace)
    cases = {
        ("get", "tj", "nope"): f'trainingjob "nope" not found in namespace "{namespace}"',
        ("get", "ftm", "nope"): f'finetunedmodel "nope" not found in namespace "{namespace}"',
        ("get", "mc", "nope"): f'modelcomparison "nope" not found in namespace "{namespace}"',
        ("models", "nope"): f'model "nope" not found in namespace "{namespace}"',
        ("logs", "tj", "nope"): f'trainingjob "nope" not found in namespace "{namespace}"',
        ("watch", "tj", "nope"): f'trainingjob "nope" not found in namespace "{namespace}"',
        ("watch", "mc", "nope"): f'modelcomparison "nope" not found in namespace "{namespace}"',
        ("compare", "ftm/nope", "tiny-llama", "--prompts", str(prompts_file(tmp_path)), "--endpoint", "vllm"):
            f'finetunedmodel "nope" not found in namespace "{namespace}"',
    }
    for argv, message in cases.items():
        run = kubetune(cluster, *argv, *ns)
        assert run.code == 3, argv
        assert run.error_line.startswith(f"kubetune: {message}"), argv
    # A namespace that does not exist: the API server's own words, on one line.
    train = kubetune(cluster, "train", "-f", DEMO_JOB, "-n", "no-such-namespace")
    assert train.code == 3 and 'namespaces "no-such-namespace" not found' in train.error_line


def test_unreachable_cluster(cluster: LocalCluster, tmp_path: Path) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    config["clusters"][0]["cluster"]["server"] = server.rsplit(":", 1)[0] + ":1"  # nothing listens on port 1
    unreachable = tmp_path / "unreachable.kubeconfig"
    unreachable.write_text(yaml.safe_dump(config))
    for argv in (("get",), ("get", "tj", "x"), ("models",), ("logs", "tj", "x"), ("watch", "tj", "x"),
                 ("train", "-f", str(DEMO_JOB)),
                 ("compare", "a", "b", "--prompts", str(prompts_file(tmp_path)), "--endpoint", "vllm")):
        run = kubetune(None, *argv, kubeconfig=unreachable)
        assert run.code == 3, argv
        assert run.error_line.startswith("kubetune: cannot reach the cluster at https://127.0.0.1:1: "), argv


def test_bad_flags(cluster: LocalCluster) -> None:
    for argv in (("get", "--bogus"), ("models", "--bogus"), ("logs", "tj", "x", "--bogus"),
                 ("watch", "tj", "x", "--bogus"), ("train", "--bogus"), ("compare", "a", "b", "--bogus"),
                 ("history", "--bogus"), ("get", "-o", "xml"), ("watch", "pods", "x")):
        run = kubetune(cluster, *argv)
        assert run.code == 2, argv
        assert run.error_line.startswith(f"kubetune {argv[0]}: error: "), argv
