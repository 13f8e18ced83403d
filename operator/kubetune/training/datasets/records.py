"""The normalised example and the problems a row can have."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Example = dict[str, Any]
"""One training example in the shape TRL's SFTTrainer takes: ``{"messages": [{"role", "content"}, ...]}``
(conversational), ``{"prompt", "completion"}`` or ``{"text"}``."""

ExampleKind = Literal["conversational", "prompt-completion", "text"]

ROLES = ("system", "user", "assistant", "tool")

# Issue codes, as documented in docs/training.md ("Validation errors").
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
UNKNOWN_ROLE = "unknown_role"
MISSING_ASSISTANT = "missing_assistant"
EMPTY_CONTENT = "empty_content"
INVALID_CHATML = "invalid_chatml"
TOO_LONG = "too_long"


@dataclass(frozen=True)
class Issue:
    """One problem with one row. ``line`` is 1-based: the line of a JSON Lines file, or the row of a query result."""

    line: int
    field: str
    code: str
    problem: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.file else f"line {self.line}"
        return f"{where}: {self.field}: {self.problem}"


class RowInvalid(Exception):
    """Raised by a normaliser; the validator turns it into an ``Issue`` with the row's line."""

    def __init__(self, field: str, code: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.code = code
        self.problem = problem


def kind_of(example: Example) -> ExampleKind:
    if "messages" in example:
        return "conversational"
    if "prompt" in example:
        return "prompt-completion"
    return "text"


def type_name(value: object) -> str:
    """The JSON name of a value's type, for messages such as "expected a string, got number"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
