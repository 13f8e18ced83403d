"""The prompts: read, validated line by line, and drawn.

Accepted lines (JSON objects, one per line):

- ``{"prompt": str, "reference": str?}``: one user turn;
- ``{"messages": [...]}``: a conversation; when it ends with an assistant turn, that turn is the reference and the
  turns before it are the request;
- ``{"prompt": str, "completion": str}``: a trainer's held-out split in prompt-completion form (format
  ``training-split``, which also takes its ``{"messages"}`` rows).

A prompt's ``id`` is its 1-based line number, so a resumed run and the samples file agree on it.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.api.evaluator import PromptsConfig

from .errors import PromptsInvalid

ROLES = ("system", "user", "assistant", "tool")
MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class Prompt:
    id: int
    messages: tuple[dict[str, str], ...]
    reference: str | None
    sha256: str
    """Of the canonical request and reference: a resumed run checks it against the samples file."""

    @property
    def question(self) -> str:
        """The last user turn: what the judge is shown as the question."""
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return users[-1] if users else self.messages[-1]["content"]


def _messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise ValueError("messages: expected a non-empty array of {role, content}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"messages[{i}]: expected an object")
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise ValueError(f"messages[{i}].role: {role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"messages[{i}].content: expected a non-empty string")
        out.append({"role": role, "content": content})
    return out


def _string(row: dict[str, Any], key: str, required: bool) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: expected a non-empty string")
    return value


def parse_row(row: Any, fmt: str) -> tuple[list[dict[str, str]], str | None]:
    """``(request messages, reference)`` of one parsed line; ``ValueError`` names the field at fault."""
    if not isinstance(row, dict):
        raise ValueError("expected a JSON object")
    if "messages" in row:
        messages = _messages(row["messages"])
        if messages[-1]["role"] == "assistant":
            request, reference = messages[:-1], messages[-1]["content"]
        else:
            request, reference = messages, None
        if not request or request[-1]["role"] == "assistant":
            raise ValueError("messages: nothing to answer before the last assistant turn")
        return request, reference
    if "prompt" in row:
        prompt = _string(row, "prompt", required=True)
        assert prompt is not None
        reference = _string(row, "completion", required=True) if fmt == "training-split" else \
            _string(row, "reference", required=False)
        return [{"role": "user", "content": prompt}], reference
    if "text" in row:
        raise ValueError("text: a plain-text example has no prompt to send; use {prompt, reference} or {messages}")
    raise ValueError("expected a prompt or messages field")


def digest(messages: list[dict[str, str]], reference: str | None) -> str:
    canonical = json.dumps({"messages": messages, "reference": reference}, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_prompts(config: PromptsConfig) -> list[Prompt]:
    """Every prompt of the file; ``PromptsInvalid`` names the file, the lines and the fields at fault."""
    path = Path(config.path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PromptsInvalid(f"prompts file {path} is not readable: {e.strerror or e}") from e
    if config.sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != config.sha256:
            raise PromptsInvalid(f"prompts file {path} has sha256 {actual}, not the {config.sha256} recorded by the "
                                 "trainer: it changed since training, so it may no longer be held out")
    prompts: list[Prompt] = []
    errors: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
            request, reference = parse_row(row, config.format)
        except UnicodeDecodeError:
            errors.append(f"line {number}: not UTF-8")
            continue
        except json.JSONDecodeError as e:
            errors.append(f"line {number}: invalid JSON: {e.msg}")
            continue
        except ValueError as e:
            errors.append(f"line {number}: {e}")
            continue
        prompts.append(Prompt(number, tuple(request), reference, digest(request, reference)))
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise PromptsInvalid(f"prompts file {path}: {len(errors)} invalid lines: {shown}{more}")
    if not prompts:
        raise PromptsInvalid(f"prompts file {path} holds no prompt")
    return prompts


def draw(prompts: list[Prompt], samples: int, seed: int) -> list[Prompt]:
    """``samples`` prompts, in file order: all when there are not more; else a seeded random subset, the same on
    every run, so a resumed pod picks the same ones."""
    if len(prompts) <= samples:
        return list(prompts)
    chosen = sorted(random.Random(seed).sample(range(len(prompts)), samples))
    return [prompts[i] for i in chosen]
