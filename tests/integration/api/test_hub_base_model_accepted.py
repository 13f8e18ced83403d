"""The API server accepts hf:// base models at every revision form the operator accepts (a branch, a tag, a git ref,
a commit sha), with or without a token: the CRD's CEL pattern (RE2) and the operator's (Python) agree."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.api import TrainingJob, parse_resource

pytestmark = pytest.mark.cluster

COMMIT = "4d2a3c1f" * 5


@pytest.mark.parametrize(("uri", "revision"), [
    ("hf://Qwen/Qwen2.5-0.5B-Instruct", None),
    ("hf://Qwen/Qwen2.5-0.5B-Instruct@main", "main"),
    ("hf://meta-llama/Llama-3.1-8B@v1.0_rc", "v1.0_rc"),
    ("hf://org/repo@refs/pr/12", "refs/pr/12"),
    (f"hf://org/repo@{COMMIT}", COMMIT),
    ("hf://gpt2", None),
])
def test_hub_uri_is_accepted(module_custom: Any, example: Any, uri: str, revision: str | None) -> None:
    doc = example("trainingjob-minimal.yaml")
    doc["spec"]["baseModel"]["source"] = {"uri": uri, "tokenSecretRef": {"name": "hf", "key": "token"}}
    stored = module_custom.create(doc, dry_run=True)
    tj = parse_resource(stored)
    assert isinstance(tj, TrainingJob)
    assert tj.spec.base_model.source.hub_repo() == (uri.removeprefix("hf://").split("@")[0], revision)
    assert stored["spec"]["baseModel"]["source"]["tokenSecretRef"] == {"name": "hf", "key": "token"}
