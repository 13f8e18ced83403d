"""The samples file: appended per sample, resumed after a kill (partial last line cut, no prompt twice), and refused
when it belongs to other prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.api.evaluator import PromptsConfig
from kubetune.evaluation.client import Answer
from kubetune.evaluation.errors import ConfigInvalid
from kubetune.evaluation.prompts import Prompt, load_prompts
from kubetune.evaluation.samples import SamplesFile, answer_record, sample_record


def prompts(tmp_path: Path, n: int = 5) -> list[Prompt]:
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "reference": f"a{i}"}) + "\n" for i in range(n)))
    return load_prompts(PromptsConfig(path=str(path)))


def record(prompt: Prompt, attempt: int) -> dict[str, object]:
    answer = answer_record(Answer(text="a", sent_at=1.0, ended_at=2.0, ttft_ms=5.0, latency_ms=9.0,
                                  output_tokens=3), None)
    return sample_record(prompt, attempt, answer, answer, None)


def test_resume_returns_what_was_written_and_the_next_attempt(tmp_path: Path) -> None:
    drawn = prompts(tmp_path)
    samples = SamplesFile(tmp_path / "out" / "samples.jsonl")
    assert samples.resume(drawn).attempt == 1
    samples.open()
    for p in drawn[:3]:
        samples.append(record(p, 1))
    samples.close()
    resumed = SamplesFile(tmp_path / "out" / "samples.jsonl").resume(drawn)
    assert [r["id"] for r in resumed.records] == [1, 2, 3] and resumed.attempt == 2


def test_a_partial_last_line_is_cut_before_appending(tmp_path: Path) -> None:
    drawn = prompts(tmp_path)
    path = tmp_path / "samples.jsonl"
    samples = SamplesFile(path)
    samples.open()
    samples.append(record(drawn[0], 1))
    samples.close()
    with path.open("ab") as f:  # a kill in the middle of a write
        f.write(json.dumps(record(drawn[1], 1)).encode()[:40])
    resumed = SamplesFile(path).resume(drawn)
    assert [r["id"] for r in resumed.records] == [1]
    assert path.read_bytes().endswith(b"\n") and len(path.read_bytes().splitlines()) == 1


def test_a_repeated_prompt_is_kept_once(tmp_path: Path) -> None:
    drawn = prompts(tmp_path)
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps(record(drawn[0], 1)) + "\n" + json.dumps(record(drawn[0], 2)) + "\n")
    assert [r["attempt"] for r in SamplesFile(path).resume(drawn).records] == [1]


def test_samples_of_other_prompts_are_refused(tmp_path: Path) -> None:
    drawn = prompts(tmp_path)
    path = tmp_path / "samples.jsonl"
    other = record(drawn[0], 1) | {"promptSha256": "f" * 64}
    path.write_text(json.dumps(other) + "\n")
    with pytest.raises(ConfigInvalid, match="line 1 was written for other prompts"):
        SamplesFile(path).resume(drawn)
    path.write_text("garbage\n")
    with pytest.raises(ConfigInvalid, match="line 1 is not a sample record"):
        SamplesFile(path).resume(drawn)


def test_records_are_redacted_before_they_reach_the_disk(tmp_path: Path) -> None:
    drawn = prompts(tmp_path)
    path = tmp_path / "samples.jsonl"
    samples = SamplesFile(path, redact=lambda text: text.replace("q0", "[redacted]"))
    samples.open()
    samples.append(record(drawn[0], 1))
    samples.close()
    assert "q0" not in path.read_text() and "[redacted]" in path.read_text()
