"""Stream JSON Lines: one parsed object per line, or an ``Issue`` for a line that is not one. Constant memory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .records import INVALID_JSON, INVALID_UTF8, NOT_AN_OBJECT, Issue, type_name

Row = tuple[str | None, int, "dict[str, Any] | Issue"]
"""A row: the file it came from (None for a single source), its 1-based line number, and the parsed object or the
issue that kept it from being one."""

_BOM = b"\xef\xbb\xbf"
_LINE = "(line)"


def read_jsonl(lines: Iterable[bytes], file: str | None = None) -> Iterator[Row]:
    """Parse ``lines`` (a binary file, an HTTP response: anything that yields ``\\n``-terminated bytes).

    Blank lines are skipped but still counted, so line numbers match an editor's.
    """
    for number, raw in enumerate(lines, 1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if not raw.strip():
            continue
        try:
            text = raw.rstrip(b"\r\n").decode("utf-8")
        except UnicodeDecodeError as e:
            yield file, number, Issue(number, _LINE, INVALID_UTF8, f"not valid UTF-8 (byte {e.start + 1})", file)
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            yield file, number, Issue(number, _LINE, INVALID_JSON, f"not valid JSON: {e.msg} (column {e.colno})", file)
            continue
        if not isinstance(value, dict):
            problem = f"expected a JSON object, got {type_name(value)}"
            yield file, number, Issue(number, _LINE, NOT_AN_OBJECT, problem, file)
            continue
        yield file, number, value
