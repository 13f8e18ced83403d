"""Every bad-dataset case gives its documented error (code, field, message) with its line number; every format's good
rows normalise to the shape TRL trains on."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kubetune.training.backends.chat import CHATML_TEMPLATE
from kubetune.training.datasets.formats import normalise
from kubetune.training.datasets.jsonl import read_jsonl
from kubetune.training.datasets.lengths import TokenizerCounter
from kubetune.training.datasets.records import Issue
from kubetune.training.datasets.validation import ValidationReport, validate

GOOD = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})


def run(lines: list[bytes], fmt: str, **kwargs: object) -> tuple[list[dict], ValidationReport]:
    report = ValidationReport()
    data = b"".join(line + b"\n" for line in lines)
    accepted = [a.example for a in validate(read_jsonl(io.BytesIO(data)), fmt, report, **kwargs)]  # type: ignore[arg-type]
    return accepted, report


def j(value: object) -> bytes:
    return json.dumps(value).encode()


# (id, format, the bad line, expected field, expected code, expected message)
BAD_ROWS = [
    ("bad-json", "openai", b'{"messages": [', "(line)", "invalid_json", "not valid JSON: Expecting value (column 15)"),
    ("bad-utf8", "openai", b'{"messages": "\xff\xfe"}', "(line)", "invalid_utf8", "not valid UTF-8 (byte 15)"),
    ("not-an-object", "openai", b"[1, 2]", "(line)", "not_an_object", "expected a JSON object, got array"),
    ("missing-messages", "openai", j({"conversation": []}), "messages", "missing_field", "required field is missing"),
    ("messages-not-list", "openai", j({"messages": "hi"}), "messages", "wrong_type",
     "expected an array of messages, got string"),
    ("no-messages", "openai", j({"messages": []}), "messages", "empty_content", "no messages"),
    ("message-not-object", "openai", j({"messages": ["hi"]}), "messages[0]", "wrong_type",
     "expected an object, got string"),
    ("unknown-role", "openai",
     j({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}),
     "messages[1].role", "unknown_role", "unknown role 'bot'; expected one of system, user, assistant, tool"),
    ("missing-role", "openai", j({"messages": [{"content": "a"}]}), "messages[0].role", "missing_field",
     "required field is missing"),
    ("missing-assistant", "openai",
     j({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"}]}),
     "messages", "missing_assistant", "no assistant message"),
    ("empty-content", "openai",
     j({"messages": [{"role": "user", "content": "  \n"}, {"role": "assistant", "content": "b"}]}),
     "messages[0].content", "empty_content", "content is empty"),
    ("content-not-string", "openai",
     j({"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "b"}]}),
     "messages[0].content", "wrong_type", "expected a string, got number"),
    ("content-null", "openai",
     j({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": None}]}),
     "messages[1].content", "wrong_type", "expected a string, got null"),
    ("chatml-no-blocks", "chatml", j({"text": "just text"}), "text", "invalid_chatml",
     "no <|im_start|>role ... <|im_end|> block"),
    ("chatml-stray-text", "chatml",
     j({"text": "<|im_start|>user\nhi<|im_end|>\nstray<|im_start|>assistant\nyo<|im_end|>"}),
     "text", "invalid_chatml", "text outside <|im_start|>...<|im_end|> at character 30"),
    ("chatml-unknown-role", "chatml", j({"text": "<|im_start|>robot\nhi<|im_end|>"}), "text[0].role",
     "unknown_role", "unknown role 'robot'; expected one of system, user, assistant, tool"),
    ("chatml-missing-assistant", "chatml", j({"text": "<|im_start|>user\nhi<|im_end|>"}), "text",
     "missing_assistant", "no assistant message"),
    ("sharegpt-unknown-speaker", "sharegpt",
     j({"conversations": [{"from": "human", "value": "a"}, {"from": "robot", "value": "b"}]}),
     "conversations[1].from", "unknown_role",
     "unknown role 'robot'; expected one of system, human, user, gpt, assistant, tool"),
    ("sharegpt-empty-value", "sharegpt",
     j({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": ""}]}),
     "conversations[1].value", "empty_content", "content is empty"),
    ("sharegpt-missing-gpt", "sharegpt", j({"conversations": [{"from": "human", "value": "a"}]}),
     "conversations", "missing_assistant", "no assistant message"),
    ("alpaca-missing-output", "alpaca", j({"instruction": "do"}), "output", "missing_field",
     "required field is missing"),
    ("alpaca-empty-instruction", "alpaca", j({"instruction": " ", "output": "x"}), "instruction", "empty_content",
     "content is empty"),
    ("alpaca-input-not-string", "alpaca", j({"instruction": "a", "input": [1], "output": "x"}), "input",
     "wrong_type", "expected a string, got array"),
    ("pc-missing-completion", "prompt-completion", j({"prompt": "a"}), "completion", "missing_field",
     "required field is missing"),
    ("pc-empty-completion", "prompt-completion", j({"prompt": "a", "completion": ""}), "completion",
     "empty_content", "content is empty"),
    ("text-missing", "text", j({"body": "a"}), "text", "missing_field", "required field is missing"),
    ("text-empty", "text", j({"text": "\t"}), "text", "empty_content", "content is empty"),
]


@pytest.mark.parametrize(("fmt", "line", "field", "code", "message"), [c[1:] for c in BAD_ROWS],
                         ids=[c[0] for c in BAD_ROWS])
def test_bad_row_reports_its_documented_error_with_line_number(
    fmt: str, line: bytes, field: str, code: str, message: str
) -> None:
    good = {
        "openai": GOOD.encode(),
        "chatml": j({"text": "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n"}),
        "sharegpt": j({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}),
        "alpaca": j({"instruction": "a", "output": "b"}),
        "prompt-completion": j({"prompt": "a", "completion": "b"}),
        "text": j({"text": "a"}),
    }[fmt]
    # The bad row sits on line 4, after a good row and a blank line, so the number must count every line.
    accepted, report = run([good, good, b"", line, good], fmt)
    assert len(accepted) == 3
    assert report.rows == 4 and report.rejected == 1
    assert report.issues == [Issue(4, field, code, message)]
    assert str(report.issues[0]) == f"line 4: {field}: {message}"
    assert report.counts == {code: 1}


def test_documented_codes_are_all_exercised() -> None:
    """docs/training.md's table lists these codes; each has a case above (too_long is tested with a tokenizer)."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "training.md").read_text()
    codes = {c[4] for c in BAD_ROWS} | {"too_long"}
    for code in codes:
        assert f"`{code}`" in doc, code


def test_too_long_is_counted_with_the_model_tokenizer(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert tokenizer.chat_template == CHATML_TEMPLATE
    long = j({"messages": [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]})
    accepted, report = run([GOOD.encode(), long], "openai", counter=TokenizerCounter(tokenizer), max_seq_length=64)
    assert len(accepted) == 1
    (issue,) = report.issues
    assert (issue.line, issue.field, issue.code) == (2, "(example)", "too_long")
    tokens = len(tokenizer.apply_chat_template(json.loads(long)["messages"], tokenize=True)["input_ids"])
    assert issue.problem == f"{tokens} tokens, more than maxSeqLength 64"
    expected = len(tokenizer.apply_chat_template(json.loads(GOOD)["messages"], tokenize=True)["input_ids"])
    assert report.tokens == report.max_tokens == expected


def test_utf8_bom_and_crlf_are_accepted() -> None:
    accepted, report = run([b"\xef\xbb\xbf" + GOOD.encode() + b"\r", GOOD.encode() + b"\r"], "openai")
    assert len(accepted) == 2 and report.rejected == 0


@pytest.mark.parametrize(
    ("fmt", "row", "expected"),
    [
        ("openai", {"messages": [{"role": "user", "content": "q", "name": "x"}, {"role": "assistant", "content": "a"}]},
         {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
        ("chatml", {"text": "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nq<|im_end|>\n"
                            "<|im_start|>assistant\nline one\nline two<|im_end|>\n"},
         {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "q"},
                       {"role": "assistant", "content": "line one\nline two"}]}),
        ("chatml", {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
         {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
        ("sharegpt", {"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q"},
                                        {"from": "gpt", "value": "a"}]},
         {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                       {"role": "assistant", "content": "a"}]}),
        ("alpaca", {"instruction": "Translate", "input": "chat", "output": "cat"},
         {"messages": [{"role": "user", "content": "Translate\n\nchat"}, {"role": "assistant", "content": "cat"}]}),
        ("alpaca", {"instruction": "Say hi", "input": "", "output": "hi", "system": "polite"},
         {"messages": [{"role": "system", "content": "polite"}, {"role": "user", "content": "Say hi"},
                       {"role": "assistant", "content": "hi"}]}),
        ("prompt-completion", {"prompt": "2+2=", "completion": "4", "id": 7}, {"prompt": "2+2=", "completion": "4"}),
        ("text", {"text": "free text", "meta": {}}, {"text": "free text"}),
    ],
)
def test_formats_normalise_to_the_trl_shape(fmt: str, row: dict, expected: dict) -> None:
    assert normalise(fmt, row) == expected
