"""The entry point's exit codes and termination messages, on real failures: a malformed config, prompts with a bad
line, and an endpoint nobody listens on (connection refused, retried, then EndpointErrors naming the first error)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from kubetune.api.evaluator import EXIT_CONFIG_INVALID, EXIT_ENDPOINT_ERRORS, EXIT_PROMPTS_INVALID
from kubetune.evaluation.main import main

KEY = "sk-unit-4242424242"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: connections are refused


def config(tmp_path: Path, **changes: Any) -> Path:
    prompts = tmp_path / "prompts.jsonl"
    if not prompts.exists():
        prompts.write_text("".join(json.dumps({"prompt": f"q{i}", "reference": "a"}) + "\n" for i in range(10)))
    url = f"http://127.0.0.1:{closed_port()}"
    body: dict[str, Any] = {
        "comparison": {"name": "unit"},
        "baseline": {"model": "base", "urls": [url], "apiKeyEnv": "UNIT_KEY"},
        "candidate": {"model": "tuned", "urls": [url], "apiKeyEnv": "UNIT_KEY"},
        "prompts": {"path": str(prompts)},
        "concurrency": 2,
        "output": {"dir": str(tmp_path / "out")},
        "failures": {"retries": 1, "backoffSeconds": 0.01, "maxErrorRate": 0.2},
        "progress": {"port": 0, "host": "127.0.0.1"},
        "terminationMessagePath": str(tmp_path / "termination-log"),
        **changes,
    }
    path = tmp_path / "evaluator.json"
    path.write_text(json.dumps(body))
    return path


def result(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "termination-log").read_text()))


def test_a_malformed_config_is_config_invalid(tmp_path: Path) -> None:
    path = tmp_path / "evaluator.json"
    path.write_text(json.dumps({"comparison": {"name": "x"}, "baseline": {"model": "m", "urls": ["ftp://x"]}}))
    assert main(["--config", str(path)]) == EXIT_CONFIG_INVALID


def test_a_bad_prompt_line_is_prompts_invalid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIT_KEY", KEY)
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "fine"}\n{"prompt": 7}\n')
    assert main(["--config", str(config(tmp_path))]) == EXIT_PROMPTS_INVALID
    out = result(tmp_path)
    assert (out["phase"], out["reason"]) == ("Failed", "PromptsInvalid")
    assert "line 2: prompt: expected a non-empty string" in out["message"]


def test_an_endpoint_that_refuses_fails_with_the_first_error_and_no_key(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("UNIT_KEY", KEY)
    assert main(["--config", str(config(tmp_path))]) == EXIT_ENDPOINT_ERRORS
    out = result(tmp_path)
    assert (out["phase"], out["reason"]) == ("Failed", "EndpointErrors")
    assert "more than maxErrorRate 0.2 of 10 prompts allows (2)" in out["message"]
    assert out["firstError"].startswith(("baseline: ", "candidate: "))
    assert "Connection error: All connection attempts failed" in out["firstError"]
    written = [p.read_text() for p in tmp_path.rglob("*") if p.is_file() and p.name != "evaluator.json"]
    assert written and not any(KEY in text for text in written)
    assert KEY not in caplog.text
