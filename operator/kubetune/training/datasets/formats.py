"""One normaliser per dataset format: a parsed JSON object in, a normalised ``Example`` out, or ``RowInvalid``.

The checks follow OpenAI's fine-tuning data checks: known roles, string content that is not empty, and at least one
assistant message per conversation. Extra keys are ignored; only what training uses is kept, so that every example of
a dataset has the same columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kubetune.api.trainer import DatasetFormat

from .records import (
    EMPTY_CONTENT,
    INVALID_CHATML,
    MISSING_ASSISTANT,
    MISSING_FIELD,
    ROLES,
    UNKNOWN_ROLE,
    WRONG_TYPE,
    Example,
    RowInvalid,
    type_name,
)

FORMATS: tuple[DatasetFormat, ...] = ("openai", "chatml", "alpaca", "sharegpt", "prompt-completion", "text")

# ShareGPT's speaker names, mapped to chat roles.
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "tool": "tool"}

_CHATML_BLOCK = re.compile(r"<\|im_start\|>([^\n]*)\n(.*?)<\|im_end\|>", re.DOTALL)


def _field(row: Mapping[str, Any], name: str, path: str | None = None) -> Any:
    if name not in row:
        raise RowInvalid(path or name, MISSING_FIELD, "required field is missing")
    return row[name]


def _string(value: Any, path: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RowInvalid(path, WRONG_TYPE, f"expected a string, got {type_name(value)}")
    if not allow_empty and not value.strip():
        raise RowInvalid(path, EMPTY_CONTENT, "content is empty")
    return value


def _conversation(items: Any, path: str, role_key: str, content_key: str, roles: Mapping[str, str]) -> Example:
    if not isinstance(items, list):
        raise RowInvalid(path, WRONG_TYPE, f"expected an array of messages, got {type_name(items)}")
    if not items:
        raise RowInvalid(path, EMPTY_CONTENT, "no messages")
    messages = []
    for i, item in enumerate(items):
        at = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise RowInvalid(at, WRONG_TYPE, f"expected an object, got {type_name(item)}")
        role = _field(item, role_key, f"{at}.{role_key}")
        if not isinstance(role, str) or role not in roles:
            raise RowInvalid(
                f"{at}.{role_key}", UNKNOWN_ROLE, f"unknown role {role!r}; expected one of {', '.join(roles)}"
            )
        content = _string(_field(item, content_key, f"{at}.{content_key}"), f"{at}.{content_key}")
        messages.append({"role": roles[role], "content": content})
    if not any(m["role"] == "assistant" for m in messages):
        raise RowInvalid(path, MISSING_ASSISTANT, "no assistant message")
    return {"messages": messages}


_CHAT_ROLES = {r: r for r in ROLES}


def _openai(row: Mapping[str, Any]) -> Example:
    return _conversation(_field(row, "messages"), "messages", "role", "content", _CHAT_ROLES)


def parse_chatml(text: str) -> list[dict[str, str]]:
    """Split ChatML markup (``<|im_start|>role\\ncontent<|im_end|>``) into messages; raise on anything else."""
    blocks = list(_CHATML_BLOCK.finditer(text))
    if not blocks:
        raise RowInvalid("text", INVALID_CHATML, "no <|im_start|>role ... <|im_end|> block")
    messages = []
    pos = 0
    for match in [*blocks, None]:
        gap = text[pos : match.start() if match else len(text)]
        if gap.strip():
            at = pos + len(gap) - len(gap.lstrip())
            raise RowInvalid("text", INVALID_CHATML, f"text outside <|im_start|>...<|im_end|> at character {at}")
        if match:
            messages.append({"role": match.group(1).strip(), "content": match.group(2)})
            pos = match.end()
    return messages


def _chatml(row: Mapping[str, Any]) -> Example:
    # Either ChatML markup in "text" (what the predecessor exported) or already-split "messages".
    if "text" in row or "messages" not in row:
        text = _string(_field(row, "text"), "text")
        return _conversation(parse_chatml(text), "text", "role", "content", _CHAT_ROLES)
    return _openai(row)


def _sharegpt(row: Mapping[str, Any]) -> Example:
    return _conversation(_field(row, "conversations"), "conversations", "from", "value", SHAREGPT_ROLES)


def _alpaca(row: Mapping[str, Any]) -> Example:
    instruction = _string(_field(row, "instruction"), "instruction")
    extra = row.get("input")
    if extra is not None:
        extra = _string(extra, "input", allow_empty=True)
    output = _string(_field(row, "output"), "output")
    messages = []
    system = row.get("system")
    if system is not None:
        messages.append({"role": "system", "content": _string(system, "system")})
    user = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
    return {"messages": messages}


def _prompt_completion(row: Mapping[str, Any]) -> Example:
    return {
        "prompt": _string(_field(row, "prompt"), "prompt"),
        "completion": _string(_field(row, "completion"), "completion"),
    }


def _text(row: Mapping[str, Any]) -> Example:
    return {"text": _string(_field(row, "text"), "text")}


NORMALISERS: dict[str, Callable[[Mapping[str, Any]], Example]] = {
    "openai": _openai,
    "chatml": _chatml,
    "alpaca": _alpaca,
    "sharegpt": _sharegpt,
    "prompt-completion": _prompt_completion,
    "text": _text,
}


def normalise(fmt: DatasetFormat | str, row: Mapping[str, Any]) -> Example:
    """Turn one parsed row of ``fmt`` into an ``Example``; raise ``RowInvalid`` naming the field at fault."""
    return NORMALISERS[fmt](row)
