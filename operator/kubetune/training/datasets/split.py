"""The deterministic train/validation split and the dataset digest.

An example goes to validation when a salted hash of its canonical JSON falls below ``validationSplit``. The split does
not depend on row order or on the other rows, so appending rows never moves an old example across, and duplicates
stay on the same side (no leak from train into validation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TypeVar

from .records import Example

T = TypeVar("T")


def canonical(example: Example) -> bytes:
    """The bytes the digest and the split hash: sorted keys, no spaces, UTF-8."""
    return json.dumps(example, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def bucket(canonical_bytes: bytes, seed: int) -> float:
    """A number in [0, 1) fixed by the example and the seed."""
    digest = hashlib.sha256(seed.to_bytes(8, "big", signed=False) + canonical_bytes).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(items: Sequence[T], buckets: Sequence[float], fraction: float) -> tuple[list[T], list[T]]:
    """``(train, validation)``. With ``fraction > 0`` and at least two items, neither side is left empty: the item with
    the lowest (or highest) bucket moves over, which keeps the choice deterministic."""
    train = [item for item, b in zip(items, buckets, strict=True) if b >= fraction]
    validation = [item for item, b in zip(items, buckets, strict=True) if b < fraction]
    if fraction > 0 and len(items) >= 2:
        order = sorted(range(len(items)), key=lambda i: buckets[i])
        if not validation:
            validation = [items[order[0]]]
            train = [items[i] for i in sorted(order[1:])]
        elif not train:
            train = [items[order[-1]]]
            validation = [items[i] for i in sorted(order[:-1])]
    return train, validation


class Digest:
    """SHA-256 over the canonical JSON Lines of the accepted examples, in source order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, canonical_bytes: bytes) -> None:
        self._hash.update(canonical_bytes)
        self._hash.update(b"\n")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
