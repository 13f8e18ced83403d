"""Turn the columns of a query result into rows of a dataset format (the predecessor's "gold star" export).

Each format accepts one or more *shapes*: sets of fields such as ``prompt`` + ``completion`` (+ ``system``) or a
whole ``messages`` column. ``mapping`` names the column for a field; a field not mapped is read from the column of
the same name. The first shape whose required fields all resolve to columns is used.

``RowBuilder.record`` builds the row as a dict (what the trainer validates). ``RowBuilder.line`` writes the same row
as a JSON line, fast: the JSON around the values is rendered once into a template, so a row costs one string escape
per value (what makes the export keep up with ``psql \\copy``). Rows that the template cannot express (a NULL, a
value that is not a string) fall back to ``json.dumps(record(...))``, so both always agree.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubetune.training.errors import ConfigInvalid, DatasetInvalid

Values = Mapping[str, Any]
_encode: Callable[[str], str] = json.encoder.encode_basestring  # the C string escaper json.dumps uses


@dataclass(frozen=True)
class Shape:
    """One way a format can be filled from columns."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    build: Callable[[Values], dict[str, Any]]
    json_fields: frozenset[str] = frozenset()  # fields holding JSON (a text column is parsed)


def _turns(values: Values) -> list[tuple[str, Any]]:
    system = values.get("system")
    turns = [("system", system)] if system is not None else []
    return [*turns, ("user", values["prompt"]), ("assistant", values["completion"])]


def _chatml_text(values: Values) -> dict[str, Any]:
    return {"text": "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in _turns(values))}


def _alpaca(values: Values) -> dict[str, Any]:
    row = {"instruction": values["instruction"]}
    if values.get("input") is not None:
        row["input"] = values["input"]
    row["output"] = values["output"]
    if values.get("system") is not None:
        row["system"] = values["system"]
    return row


_SHAREGPT_SPEAKER = {"system": "system", "user": "human", "assistant": "gpt"}
_PAIR = ("prompt", "completion")

SHAPES: dict[str, tuple[Shape, ...]] = {
    "openai": (
        Shape(("messages",), (), lambda v: {"messages": v["messages"]}, frozenset({"messages"})),
        Shape(_PAIR, ("system",), lambda v: {"messages": [{"role": r, "content": c} for r, c in _turns(v)]}),
    ),
    "chatml": (
        Shape(("text",), (), lambda v: {"text": v["text"]}),
        Shape(("messages",), (), lambda v: {"messages": v["messages"]}, frozenset({"messages"})),
        Shape(_PAIR, ("system",), _chatml_text),
    ),
    "sharegpt": (
        Shape(("conversations",), (), lambda v: {"conversations": v["conversations"]}, frozenset({"conversations"})),
        Shape(
            _PAIR,
            ("system",),
            lambda v: {"conversations": [{"from": _SHAREGPT_SPEAKER[r], "value": c} for r, c in _turns(v)]},
        ),
    ),
    "alpaca": (Shape(("instruction", "output"), ("input", "system"), _alpaca),),
    "prompt-completion": (Shape(_PAIR, (), lambda v: {"prompt": v["prompt"], "completion": v["completion"]}),),
    "text": (Shape(("text",), (), lambda v: {"text": v["text"]}),),
}


def format_fields(fmt: str) -> set[str]:
    return {f for shape in SHAPES[fmt] for f in (*shape.required, *shape.optional)}


class RowBuilder:
    """Builds rows of one format from result rows (tuples in ``columns`` order)."""

    def __init__(self, fmt: str, mapping: Mapping[str, str], columns: Sequence[str]) -> None:
        if fmt not in SHAPES:
            raise ConfigInvalid(f"unknown dataset format {fmt!r}")
        unknown = set(mapping) - format_fields(fmt)
        if unknown:
            raise ConfigInvalid(
                f"mapping names fields that format {fmt} does not have: {', '.join(sorted(unknown))} "
                f"(fields: {', '.join(sorted(format_fields(fmt)))})"
            )
        index = {name: i for i, name in enumerate(columns)}
        for field, column in mapping.items():
            if column not in index:
                raise DatasetInvalid(
                    f"mapping {field} -> {column}: the query has no column {column!r} "
                    f"(columns: {', '.join(columns)})"
                )
        for shape in SHAPES[fmt]:
            if all(mapping.get(f, f) in index for f in shape.required):
                break
        else:
            wanted = " or ".join("+".join(s.required) for s in SHAPES[fmt])
            raise DatasetInvalid(
                f"format {fmt} needs columns for {wanted}; the query returns {', '.join(columns)} "
                "(map fields to columns with mapping)"
            )
        self.shape = shape
        fields = [f for f in (*shape.required, *shape.optional) if mapping.get(f, f) in index]
        self.fields = tuple(fields)
        self._positions = tuple(index[mapping.get(f, f)] for f in fields)
        self._template = None if shape.json_fields else _Template.compile(shape, self.fields)
        positions = self._positions
        self._pick: Callable[[Sequence[Any]], Sequence[Any]] = (
            (lambda row: row) if positions == tuple(range(len(columns)))
            else (lambda row: [row[i] for i in positions])
        )

    def values(self, row: Sequence[Any]) -> dict[str, Any]:
        values = {f: row[i] for f, i in zip(self.fields, self._positions, strict=True)}
        for f in self.shape.json_fields:
            if isinstance(values.get(f), str):
                # Left as a string when it is not JSON: validation then reports "expected an array".
                with contextlib.suppress(json.JSONDecodeError):
                    values[f] = json.loads(values[f])
        return values

    def record(self, row: Sequence[Any]) -> dict[str, Any]:
        return self.shape.build(self.values(row))

    def line(self, row: Sequence[Any]) -> str:
        """The row as one line of JSON (no trailing newline), equal to ``json.dumps(self.record(row))``."""
        if self._template is not None:
            try:
                return self._template.render([row[i] for i in self._positions])
            except TypeError:
                pass  # a NULL or a value that is not a string: let json.dumps say how it is written
        return json.dumps(self.record(row), ensure_ascii=False, separators=(",", ":"))

    def lines(self, rows: Sequence[Sequence[Any]]) -> str:
        """``line`` for each row, joined by newlines: the export's hot loop, one escape call per value."""
        template = self._template
        if template is not None and template.direct:
            pick = self._pick
            fmt = template.fmt
            try:
                return "\n".join([fmt % tuple(map(_encode, pick(row))) for row in rows])
            except TypeError:
                pass  # a NULL or a non-string somewhere in the batch: row by row
        return "\n".join([self.line(row) for row in rows])


_SLOT = re.compile(r'"@@kubetune(\d+)@@"|@@kubetune(\d+)@@')


class _Template:
    """The JSON of a shape with a hole per field. A hole that is a whole JSON string takes the escaped value with its
    quotes; a hole inside a longer string (ChatML markup) takes it without them."""

    def __init__(self, fmt: str, slots: list[tuple[int, bool]]) -> None:
        self.fmt = fmt
        self._slots = slots
        # The common case, every value a whole string in field order: one C call per value.
        self.direct = all(whole for _, whole in slots) and [i for i, _ in slots] == list(range(len(slots)))

    @classmethod
    def compile(cls, shape: Shape, fields: Sequence[str]) -> _Template:
        sample = shape.build({f: f"@@kubetune{i}@@" for i, f in enumerate(fields)})
        text = json.dumps(sample, ensure_ascii=False, separators=(",", ":")).replace("%", "%%")
        slots: list[tuple[int, bool]] = []

        def hole(match: re.Match[str]) -> str:
            slots.append((int(match.group(1) or match.group(2)), match.group(1) is not None))
            return "%s"

        return cls(_SLOT.sub(hole, text), slots)

    def render(self, values: Sequence[Any]) -> str:
        if self.direct:
            return self.fmt % tuple(map(_encode, values))
        return self.fmt % tuple(_encode(values[i]) if whole else _encode(values[i])[1:-1] for i, whole in self._slots)
