"""Count an example's tokens the way training will see them: through the base model's tokenizer and chat template.

Counting is batched: the chat template renders in Python, but the fast tokenizer encodes a whole batch in Rust.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .records import Example


class TokenCounter(Protocol):
    def count(self, examples: Sequence[Example]) -> list[int]:
        """Tokens per example, in order."""
        ...


class TokenizerCounter:
    """Counts with a Hugging Face tokenizer (one that already has the chat template training will use)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        eos = getattr(tokenizer, "eos_token", None)
        # TRL appends EOS to prompt-completion and text examples that lack it.
        self._eos: str | None = eos if isinstance(eos, str) and eos else None

    def count(self, examples: Sequence[Example]) -> list[int]:
        if not examples:
            return []
        if "messages" in examples[0]:
            texts = [self.tokenizer.apply_chat_template(e["messages"], tokenize=False) for e in examples]
            encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
            return [len(ids) for ids in encoded]
        if "prompt" in examples[0]:
            texts = [e["prompt"] + e["completion"] for e in examples]
        else:
            texts = [e["text"] for e in examples]
        encoded = self.tokenizer(texts)["input_ids"]
        return [len(ids) + (1 if self._eos and not t.endswith(self._eos) else 0) for ids, t in zip(encoded, texts,
                                                                                                  strict=True)]
