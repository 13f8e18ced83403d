"""A killed evaluator (SIGKILL mid-run) restarted on the same samples file: n equals samples, no sample twice, and
progress was served while it ran."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from evaluator_harness import ANSWER, EvaluatorRun, evaluator_config, run_evaluator, start_evaluator

from kubetune_devcluster.vllm_server import VLLMProcess

pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(1800)]


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def test_a_killed_evaluator_resumes_to_exactly_n_samples(server: VLLMProcess, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Where is parcel {i}?", "reference": ANSWER}) + "\n"
                               for i in range(80)))
    config = evaluator_config(tmp_path, server.base_url, {"path": str(prompts)}, samples=60, concurrency=2,
                              sampling={"maxTokens": 24, "temperature": 0.0, "seed": 3})
    samples = tmp_path / "samples" / "samples.jsonl"
    progress: list[dict[str, Any]] = []
    proc = start_evaluator(tmp_path, config)
    deadline = time.monotonic() + 300
    while _lines(samples) < 12 and proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{config['progress']['port']}/progress", timeout=2) as r:
                progress.append(json.loads(r.read()))
        except OSError:
            pass
        time.sleep(0.1)
    assert proc.poll() is None, "the evaluator ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _lines(samples)
    assert 12 <= killed_at < 60

    run = run_evaluator(tmp_path, config)
    assert run.returncode == 0, run.log[-3000:]
    records = EvaluatorRun(tmp_path, config, 0, "").samples
    ids = [r["id"] for r in records]
    assert len(ids) == 60 and len(set(ids)) == 60
    assert {r["attempt"] for r in records} == {1, 2}
    result = run.result
    assert result["resumed"] >= killed_at - 1  # a line cut by the kill is redone
    assert result["results"]["samples"] == 60 and result["results"]["winRate"]["n"] == 60
    running = [p for p in progress if p["phase"] == "Running"]
    assert running and running[-1]["total"] == 60 and 0 < running[-1]["done"] < 60
    assert {"inFlight", "errors", "baseline", "candidate"} <= set(running[-1])
