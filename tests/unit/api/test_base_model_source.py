"""spec.baseModel.source: a pvc, or an hf:// repo at an optional revision with an optional token; s3:// and https://
are refused with a message that says what to use. The CRD carries the same rules as CEL (the API server's side is
tested in tests/integration/api/test_invalid_manifests.py)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.api import InvalidResource, TrainingJob, parse_resource
from kubetune.api.crdgen.manifests import crd_manifest
from kubetune.api.trainingjob import HF_URI

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[3] / "examples" / "trainingjob-minimal.yaml").read_text())
COMMIT = "4d2a3c1f" * 5
TOKEN = {"name": "hf", "key": "token"}


def with_source(source: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    doc["spec"]["baseModel"]["source"] = source
    return doc


def parse(source: dict[str, Any]) -> TrainingJob:
    tj = parse_resource(with_source(source))
    assert isinstance(tj, TrainingJob)
    return tj


@pytest.mark.parametrize(("uri", "repo_id", "revision"), [
    ("hf://Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", None),
    ("hf://Qwen/Qwen2.5-0.5B-Instruct@main", "Qwen/Qwen2.5-0.5B-Instruct", "main"),
    ("hf://meta-llama/Llama-3.1-8B@v1.0_rc", "meta-llama/Llama-3.1-8B", "v1.0_rc"),
    ("hf://org/repo@refs/pr/12", "org/repo", "refs/pr/12"),
    (f"hf://org/repo@{COMMIT}", "org/repo", COMMIT),
    ("hf://gpt2", "gpt2", None),
])
def test_hub_uris_are_accepted_with_their_revision(uri: str, repo_id: str, revision: str | None) -> None:
    assert parse({"uri": uri}).spec.base_model.source.hub_repo() == (repo_id, revision)


def test_a_token_comes_from_a_secret_key() -> None:
    source = parse({"uri": "hf://org/private", "tokenSecretRef": TOKEN}).spec.base_model.source
    assert source.token_secret_ref is not None and source.token_secret_ref.name == "hf"
    assert source.pvc is None


@pytest.mark.parametrize("uri", ["s3://bucket/models/qwen", "https://models.example/qwen.tar"])
def test_s3_and_https_base_models_are_refused_naming_what_to_use(uri: str) -> None:
    with pytest.raises(InvalidResource) as info:
        parse({"uri": uri})
    assert info.value.errors == [(
        "spec.baseModel.source.uri",
        "only hf://<org>/<repo>[@revision] base models can be trained on; s3:// and https:// are not supported: "
        "copy the weights to a PersistentVolumeClaim and use source.pvc",
    )]


@pytest.mark.parametrize("uri", [
    "hf://org/repo@",  # an empty revision
    "hf://org/repo@-main",  # a revision must start with a letter, digit or '_'
    "hf://org/repo@feature/",  # ... and end with one
    "hf://org/repo@a..b",  # git refuses '..' in a ref
    "hf://org/repo@main@v2",
    "hf://org/sub/repo",  # a repo id has at most one '/'
    "hf://org/re--po",  # huggingface_hub refuses '--' in a repo id
    "hf://-org/repo",
    "hf://org/" + "r" * 97,  # at most 96 characters
])
def test_malformed_hub_uris_are_refused_with_the_form_expected(uri: str) -> None:
    with pytest.raises(InvalidResource) as info:
        parse({"uri": uri})
    (path, message), = info.value.errors
    assert path == "spec.baseModel.source.uri"
    assert message.startswith("uri must be hf://<org>/<repo>[@revision]") and "40-character commit sha" in message


def test_token_without_a_hub_uri_is_refused() -> None:
    with pytest.raises(InvalidResource, match="tokenSecretRef applies only to an hf:// uri"):
        parse({"pvc": {"claimName": "models"}, "tokenSecretRef": TOKEN})


def test_the_crd_carries_the_same_rules() -> None:
    crd = crd_manifest(TrainingJob)
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    source = spec["properties"]["baseModel"]["properties"]["source"]
    uri_rules = {r["rule"]: r["message"] for r in source["properties"]["uri"]["x-kubernetes-validations"]}
    assert "self.startsWith('hf://')" in uri_rules
    (shape,) = [rule for rule in uri_rules if "matches" in rule]
    # The CEL rule embeds the very pattern the operator checks with (RE2 reads it as Python does).
    assert re.search(r"self\.matches\('(.+?)'\)", shape).group(1) == HF_URI  # type: ignore[union-attr]
    assert source["properties"]["tokenSecretRef"]["required"] == ["name", "key"]
    assert any("tokenSecretRef" in r["rule"] for r in source["x-kubernetes-validations"])
