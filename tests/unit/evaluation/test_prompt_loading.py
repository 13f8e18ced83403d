"""Prompts files: both line shapes, the trainer's held-out split, line-numbered errors, digests and the seeded draw."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kubetune.api.evaluator import PromptsConfig
from kubetune.evaluation.errors import PromptsInvalid
from kubetune.evaluation.prompts import draw, load_prompts


def write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_prompt_reference_and_messages_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", [
        {"prompt": "What is the capital of France?", "reference": "Paris."},
        {"prompt": "Say hi"},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"},
                      {"role": "assistant", "content": "hello world"}]},
        {"messages": [{"role": "user", "content": "no answer given"}]},
    ])
    prompts = load_prompts(PromptsConfig(path=str(path)))
    assert [p.id for p in prompts] == [1, 2, 3, 4]
    assert prompts[0].messages == ({"role": "user", "content": "What is the capital of France?"},)
    assert (prompts[0].reference, prompts[1].reference) == ("Paris.", None)
    # The last assistant turn is the reference; the turns before it are the request.
    assert [m["role"] for m in prompts[2].messages] == ["system", "user"] and prompts[2].reference == "hello world"
    assert prompts[2].question == "hello"
    assert prompts[3].reference is None


def test_the_trainers_split_reads_completions_as_references(tmp_path: Path) -> None:
    path = write(tmp_path / "validation.jsonl", [{"prompt": "2+2?", "completion": "4"}])
    data = path.read_bytes()
    (prompt,) = load_prompts(PromptsConfig(path=str(path), format="training-split",
                                           sha256=hashlib.sha256(data).hexdigest()))
    assert prompt.reference == "4"


def test_a_split_that_changed_since_training_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "validation.jsonl", [{"prompt": "2+2?", "completion": "4"}])
    with pytest.raises(PromptsInvalid, match="changed since training"):
        load_prompts(PromptsConfig(path=str(path), format="training-split", sha256="0" * 64))


def test_bad_lines_are_named_by_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", [
        {"prompt": "fine"},
        "{not json",
        {"messages": [{"role": "robot", "content": "x"}]},
        {"text": "plain text"},
        {"prompt": ""},
        [1, 2],
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}], "x": 1},
        {"prompt": 3},
    ])
    with pytest.raises(PromptsInvalid) as caught:
        load_prompts(PromptsConfig(path=str(path)))
    message = caught.value.message
    assert "6 invalid lines" in message
    assert "line 2: invalid JSON" in message
    assert "line 3: messages[0].role: 'robot'" in message
    assert "line 4: text: a plain-text example has no prompt" in message
    assert "line 5: prompt: expected a non-empty string" in message
    assert "(and 1 more)" in message


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(PromptsInvalid, match="not readable"):
        load_prompts(PromptsConfig(path=str(tmp_path / "absent.jsonl")))
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(PromptsInvalid, match="holds no prompt"):
        load_prompts(PromptsConfig(path=str(tmp_path / "empty.jsonl")))


def test_the_digest_covers_request_and_reference(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", [{"prompt": "a", "reference": "x"}, {"prompt": "a", "reference": "y"},
                                        {"prompt": "a", "reference": "x"}])
    first, second, third = load_prompts(PromptsConfig(path=str(path)))
    assert first.sha256 != second.sha256 and first.sha256 == third.sha256


def test_draw_is_seeded_in_file_order_and_takes_all_when_fewer(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", [{"prompt": f"q{i}"} for i in range(50)])
    prompts = load_prompts(PromptsConfig(path=str(path)))
    drawn = draw(prompts, 10, seed=3)
    assert len(drawn) == 10 and [p.id for p in drawn] == sorted(p.id for p in drawn)
    assert draw(prompts, 10, seed=3) == drawn and draw(prompts, 10, seed=4) != drawn
    assert draw(prompts, 80, seed=3) == prompts
