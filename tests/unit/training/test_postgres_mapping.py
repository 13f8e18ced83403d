"""Query columns become rows of each format; the export's fast JSON line always equals json.dumps of the row."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubetune.training.datasets.formats import normalise
from kubetune.training.datasets.mapping import RowBuilder
from kubetune.training.errors import ConfigInvalid, DatasetInvalid

NASTY = ['plain', 'quote " and \\ backslash', "new\nline\ttab\r\x01\x0b\x1f", "é ü 中文 💡 %s %(x)s {}", ""]

CASES: list[tuple[str, dict[str, str], list[str]]] = [
    ("openai", {"prompt": "q", "completion": "a"}, ["q", "a"]),
    ("openai", {"prompt": "q", "completion": "a", "system": "s"}, ["id", "q", "a", "s"]),
    ("chatml", {}, ["prompt", "completion", "system"]),
    ("sharegpt", {"completion": "answer"}, ["prompt", "answer"]),
    ("alpaca", {}, ["instruction", "input", "output", "system"]),
    ("prompt-completion", {}, ["completion", "prompt"]),
    ("text", {"text": "body"}, ["body"]),
]


def rows_for(columns: list[str]) -> list[tuple[Any, ...]]:
    rows = [tuple(f"{v}{i}" for i in range(len(columns))) for v in NASTY]
    rows.append(tuple([None] * len(columns)))  # NULLs: optional fields drop out, required ones stay null
    rows.append(tuple(range(len(columns))))  # numbers are kept as numbers (validation then rejects them)
    return rows


@pytest.mark.parametrize(("fmt", "mapping", "columns"), CASES)
def test_line_equals_json_of_record(fmt: str, mapping: dict[str, str], columns: list[str]) -> None:
    builder = RowBuilder(fmt, mapping, columns)
    rows = rows_for(columns)
    for row in rows:
        expected = json.dumps(builder.record(row), ensure_ascii=False, separators=(",", ":"))
        assert builder.line(row) == expected
        assert json.loads(builder.line(row)) == builder.record(row)
    assert builder.lines(rows) == "\n".join(builder.line(r) for r in rows)
    assert builder.lines(rows[:-2]) == "\n".join(builder.line(r) for r in rows[:-2])  # the all-string fast path


@pytest.mark.parametrize(("fmt", "mapping", "columns"), CASES)
def test_string_rows_normalise_to_a_conversation_or_pair(fmt: str, mapping: dict[str, str],
                                                        columns: list[str]) -> None:
    builder = RowBuilder(fmt, mapping, columns)
    example = normalise(fmt, builder.record(tuple(f"value {c}" for c in columns)))
    assert set(example) in ({"messages"}, {"prompt", "completion"}, {"text"})


def test_pair_becomes_openai_messages_with_optional_system() -> None:
    builder = RowBuilder("openai", {"prompt": "question", "completion": "answer"}, ["question", "answer", "system"])
    assert builder.record(("Q", "A", None)) == {
        "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    }
    assert builder.record(("Q", "A", "S"))["messages"][0] == {"role": "system", "content": "S"}


def test_chatml_pair_becomes_markup() -> None:
    builder = RowBuilder("chatml", {}, ["prompt", "completion"])
    assert builder.record(("Q", "A")) == {"text": "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"}


def test_messages_column_holding_json_text_is_parsed() -> None:
    builder = RowBuilder("openai", {"messages": "conv"}, ["conv"])
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert builder.record((json.dumps(messages),)) == {"messages": messages}
    assert builder.record((messages,)) == {"messages": messages}  # a json/jsonb column arrives parsed
    assert builder.record(("not json",)) == {"messages": "not json"}  # left for validation to reject


def test_mapping_to_a_missing_column_names_the_columns() -> None:
    with pytest.raises(DatasetInvalid, match=r"mapping completion -> answer: the query has no column 'answer' "
                                             r"\(columns: prompt, reply\)"):
        RowBuilder("prompt-completion", {"completion": "answer"}, ["prompt", "reply"])


def test_unmapped_required_fields_are_explained() -> None:
    with pytest.raises(DatasetInvalid, match="format openai needs columns for messages or prompt\\+completion"):
        RowBuilder("openai", {}, ["question", "reply"])


def test_mapping_a_field_the_format_lacks_is_a_config_error() -> None:
    with pytest.raises(ConfigInvalid, match="mapping names fields that format text does not have: prompt"):
        RowBuilder("text", {"prompt": "q"}, ["q", "text"])
