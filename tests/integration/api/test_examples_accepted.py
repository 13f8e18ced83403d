"""Every manifest in examples/ is accepted by the API server, which fills in the defaults the models declare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.api import KINDS, parse_resource

pytestmark = pytest.mark.cluster

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))


def test_one_realistic_and_one_minimal_example_per_kind() -> None:
    kinds: dict[str, list[str]] = {}
    for path in EXAMPLES:
        for doc in yaml.safe_load_all(path.read_text()):
            kinds.setdefault(doc["kind"], []).append(path.name)
    for kind in KINDS:
        names = kinds.get(kind, [])
        assert any("minimal" in n for n in names) and any("minimal" not in n for n in names), (kind, names)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_accepted_and_round_trips(custom: Any, path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        stored = custom.create(doc)
        # What the server stored, defaults included, is exactly what the operator's models make of the manifest.
        assert parse_resource(stored).spec == parse_resource(doc).spec


def test_server_applies_defaults(custom: Any, example: Any) -> None:
    tj = custom.create(example("trainingjob-minimal.yaml"))["spec"]
    assert tj["method"] == "lora" and tj["backend"] == "auto" and tj["suspend"] is False
    assert tj["lora"] == {"r": 16, "alpha": 32, "dropout": 0.05, "targetModules": "all-linear"}
    assert tj["hyperparameters"]["epochs"] == 3 and tj["hyperparameters"]["learningRate"] == 0.0002
    assert tj["hyperparameters"]["lrScheduler"] == "cosine" and tj["hyperparameters"]["seed"] == 42
    assert tj["dataset"]["format"] == "openai" and tj["dataset"]["validationSplit"] == 0.05
    assert tj["resources"] == {"gpus": 1, "gpuResourceName": "nvidia.com/gpu", "nodes": 1}
    assert tj["checkpoint"] == {"everySteps": 100, "keep": 2}
    assert tj["output"]["storage"]["pvc"]["path"] == "" and tj["backoffLimit"] == 2

    ftm_doc = example("finetunedmodel-minimal.yaml")
    ftm_doc["spec"]["serving"] = {"targets": [{"deployment": "vllm"}]}
    ftm = custom.create(ftm_doc)["spec"]
    assert ftm["serving"]["targets"] == [{"deployment": "vllm", "port": 8000, "prepare": False}]

    mc_doc = example("modelcomparison-minimal.yaml")
    mc_doc["spec"]["judge"] = {"endpoint": {"service": "judge"}, "model": "judge"}
    mc = custom.create(mc_doc)["spec"]
    assert mc["sampling"] == {"maxTokens": 256, "temperature": 0, "topP": 1}
    assert mc["samples"] == 200 and mc["concurrency"] == 8 and mc["endpoint"]["port"] == 8000
    assert mc["judge"]["positionSwap"] is True and mc["judge"]["endpoint"]["port"] == 8000
