"""The generated CRDs install, become Established, publish their descriptions through OpenAPI v3 (so
`kubectl explain` is useful), and show the printer columns, short names and category they declare."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from kubetune.api import GROUP, KINDS, VERSION, set_condition
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import ApiError, KubeREST

pytestmark = pytest.mark.cluster


def eventually(check: Callable[[], Any], timeout: float = 20) -> Any:
    """Retry ``check`` until it returns a truthy value: OpenAPI publication trails Established by a moment."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except (AssertionError, ApiError):  # 404 until the group's OpenAPI document is published
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s")
        time.sleep(0.3)


def test_crds_are_established_with_names_and_status_subresource(crds: list[dict[str, Any]]) -> None:
    by_kind = {c["spec"]["names"]["kind"]: c for c in crds}
    assert set(by_kind) == set(KINDS)
    expected_short = {"TrainingJob": ["tj"], "FineTunedModel": ["ftm"], "ModelComparison": ["mc"]}
    for kind, crd in by_kind.items():
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True"
        assert conditions["NamesAccepted"] == "True"
        assert crd["spec"]["scope"] == "Namespaced"
        assert crd["spec"]["names"]["shortNames"] == expected_short[kind]
        assert crd["spec"]["names"]["categories"] == ["kubetune"]
        (version,) = crd["spec"]["versions"]
        assert version["subresources"] == {"status": {}}


def test_openapi_v3_carries_descriptions(kube: KubeREST, crds: list[dict[str, Any]]) -> None:
    def lora_schema() -> dict[str, Any]:
        doc = kube.get(f"/openapi/v3/apis/{GROUP}/{VERSION}")
        schemas = doc["components"]["schemas"]
        tj = schemas[f"dev.kubetune.{VERSION}.TrainingJob"]
        assert "LoRA" in tj["description"]
        return tj["properties"]["spec"]["properties"]["lora"]

    lora = eventually(lora_schema)
    assert "Rank of the update matrices" in lora["properties"]["r"]["description"]
    assert lora["properties"]["r"]["maximum"] == 256
    assert lora["properties"]["r"]["default"] == 16


@pytest.mark.parametrize(("field", "expected"), [
    ("trainingjob.spec.lora", ["Adapter shape.", "alpha", "Scaling factor", "targetModules", "all-linear"]),
    ("tj.spec.dataset.source", ["exactly one of inline, configMap, pvc, uri or postgres", "postgres"]),
    ("finetunedmodel.spec.servedName", ["model name clients send", "Immutable"]),
    ("modelcomparison.spec.judge.positionSwap", ["position bias"]),
])
def test_kubectl_explain_is_useful(cluster: LocalCluster, crds: list[dict[str, Any]], field: str,
                                   expected: list[str]) -> None:
    def explain() -> str:
        out = cluster.kubectl("explain", field, check=False)
        assert out.returncode == 0, out.stderr
        return out.stdout

    text = " ".join(eventually(explain).split())
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not in kubectl explain {field}:\n{text}"


def test_printer_columns_read_status(cluster: LocalCluster, custom: Any, example: Any) -> None:
    tj = custom.create(example("trainingjob-minimal.yaml"))
    custom.patch("TrainingJob", tj["metadata"]["name"], {"status": {
        "phase": "Running", "progress": {"percent": 13.5, "loss": 1.23}, "reason": "Training"}}, "status")
    ftm = custom.create(example("finetunedmodel-minimal.yaml"))
    # Two conditions, the one read second: a column that ignored the filter would print both statuses.
    conditions = set_condition([], "Validated", False, "AdapterMissing", "not yet", 1)
    conditions = set_condition(conditions, "Ready", True, "Loaded", "on all pods", 1)
    custom.patch("FineTunedModel", ftm["metadata"]["name"], {"status": {
        "phase": "Serving", "loaded": "3/3", "conditions": conditions}}, "status")
    mc = custom.create(example("modelcomparison-minimal.yaml"))
    custom.patch("ModelComparison", mc["metadata"]["name"], {"status": {"phase": "Succeeded", "results": {
        "verdict": "candidate", "winRate": {"candidate": 0.64, "baseline": 0.3, "ties": 12, "n": 200,
                                            "ci95": [0.57, 0.7]}}}}, "status")

    def table(resource: str) -> list[list[str]]:
        out = cluster.kubectl("get", resource, "-n", custom.namespace, "-o", "wide")
        return [line.split() for line in out.stdout.strip().splitlines()]

    header, row = table("tj")
    assert header == ["NAME", "PHASE", "PROGRESS", "LOSS", "ETA", "MODEL", "REASON", "AGE"]
    assert row[:4] == ["hello-lora", "Running", "13.5", "1.23"] and "Training" in row

    header, row = table("ftm")
    assert header == ["NAME", "SERVED", "LOADED", "PHASE", "READY", "BASE", "AGE"]
    assert row[:6] == ["hello-lora", "hello-lora", "3/3", "Serving", "True", "Qwen/Qwen2.5-0.5B-Instruct"]

    header, row = table("mc")
    assert header == ["NAME", "PHASE", "VERDICT", "WIN", "RATE", "N", "DONE", "AGE"]
    assert row[:5] == ["hello-lora-vs-base", "Succeeded", "candidate", "0.64", "200"]

    listed = cluster.kubectl("get", "kubetune", "-n", custom.namespace, "-o", "name").stdout.split()
    assert sorted(listed) == sorted([
        "trainingjob.kubetune.dev/hello-lora", "finetunedmodel.kubetune.dev/hello-lora",
        "modelcomparison.kubetune.dev/hello-lora-vs-base"])
