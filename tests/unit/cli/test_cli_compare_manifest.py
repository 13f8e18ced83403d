"""kubetune compare: endpoints, prompts inline or in a ConfigMap, names, and the manifest the models accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.cli import build_parser
from kubetune.cli.compare import build, check, default_name, endpoint_of, parse_endpoint, prompts_source
from kubetune.cli.errors import UsageError


@pytest.mark.parametrize(("text", "endpoint"), [
    ("vllm", {"deployment": "vllm", "port": 8000}),
    ("deployment/vllm:8001", {"deployment": "vllm", "port": 8001}),
    ("svc/judge", {"service": "judge", "port": 8000}),
])
def test_endpoints(text: str, endpoint: dict[str, object]) -> None:
    assert parse_endpoint(text) == endpoint


@pytest.mark.parametrize("text", ["pod/x", "vllm:http", "service/"])
def test_bad_endpoints_say_what_is_expected(text: str) -> None:
    with pytest.raises(UsageError, match="expected"):
        parse_endpoint(text)


def test_few_prompts_go_inline_many_go_to_a_configmap(tmp_path: Path) -> None:
    few = tmp_path / "few.jsonl"
    few.write_text(json.dumps({"prompt": "2+2?", "reference": "4"}) + "\n\n" + json.dumps({"prompt": "hi"}) + "\n")
    assert prompts_source("ab", few) == ({"inline": [{"prompt": "2+2?", "reference": "4"}, {"prompt": "hi"}]}, None)
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    source, configmap = prompts_source("ab", chat)
    assert source == {"configMap": {"name": "ab-prompts", "key": "prompts.jsonl"}}
    assert configmap is not None and configmap["data"]["prompts.jsonl"].count("\n") == 1


def test_a_bad_prompt_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "ok"}) + "\n" + json.dumps({"question": "?"}) + "\n")
    with pytest.raises(UsageError, match="line 2: expected an object with prompt"):
        prompts_source("ab", path)


def test_the_manifest_from_flags_is_a_valid_modelcomparison(tmp_path: Path) -> None:
    args = build_parser().parse_args(["compare", "tiny-llama", "ftm/facts-v1", "--prompts", "p.jsonl", "--judge",
                                      "qwen", "--judge-endpoint", "svc/judge", "--max-tokens", "32", "--seed", "7"])
    ftm = {"spec": {"serving": {"targets": [{"deployment": "vllm", "port": 8000}]}}}
    endpoint = endpoint_of(ftm)
    assert endpoint == {"deployment": "vllm", "port": 8000}
    name = default_name(args.baseline, args.candidate)
    assert name.startswith("facts-v1-vs-tiny-llama-") and len(name) == len("facts-v1-vs-tiny-llama-") + 5
    manifest = build(args, name, {"servedName": "tiny-llama"}, {"fineTunedModelRef": {"name": "facts-v1"}}, endpoint,
                     {"inline": [{"prompt": "hi"}]})
    check(manifest)
    assert manifest["spec"]["judge"] == {"model": "qwen", "endpoint": {"service": "judge", "port": 8000}}
    assert manifest["spec"]["sampling"] == {"maxTokens": 32, "seed": 7}
    same = build(args, "x", {"servedName": "a"}, {"servedName": "a"}, endpoint, {"inline": [{"prompt": "hi"}]})
    with pytest.raises(UsageError, match="candidate must differ from baseline"):
        check(same)
