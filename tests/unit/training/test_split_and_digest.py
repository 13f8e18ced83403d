"""The train/validation split is deterministic and order-independent; the digest identifies the accepted data."""

from __future__ import annotations

import io
import json
import random

from kubetune.training.datasets.jsonl import read_jsonl
from kubetune.training.datasets.split import bucket, canonical, split
from kubetune.training.datasets.validation import ValidationReport, validate


def examples(n: int) -> list[dict]:
    return [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(n)]


def split_of(items: list[dict], fraction: float, seed: int = 42) -> tuple[list[dict], list[dict]]:
    return split(items, [bucket(canonical(e), seed) for e in items], fraction)


def test_split_is_deterministic_and_independent_of_order() -> None:
    items = examples(2000)
    train, validation = split_of(items, 0.1)
    assert 150 < len(validation) < 250 and len(train) + len(validation) == 2000
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    _, validation2 = split_of(shuffled, 0.1)
    key = lambda e: e["prompt"]  # noqa: E731
    assert sorted(validation, key=key) == sorted(validation2, key=key)
    # Appending rows never moves an old example across.
    _, validation3 = split_of(items + examples(3000)[2000:], 0.1)
    assert all(e in validation3 for e in validation)


def test_seed_changes_the_split() -> None:
    items = examples(500)
    assert split_of(items, 0.2, seed=1)[1] != split_of(items, 0.2, seed=2)[1]


def test_small_sets_keep_both_sides_non_empty() -> None:
    for n in (2, 3, 5):
        train, validation = split_of(examples(n), 0.05)
        assert train and validation and len(train) + len(validation) == n
    train, validation = split_of(examples(1), 0.5)
    assert len(train) + len(validation) == 1
    assert split_of(examples(10), 0.0) == (examples(10), [])


def test_digest_covers_accepted_examples_only_and_ignores_formatting() -> None:
    rows = [{"prompt": "a", "completion": "b"}, {"completion": "d", "prompt": "c", "extra": 1}]

    def digest(lines: list[str]) -> str:
        report = ValidationReport()
        list(validate(read_jsonl(io.BytesIO("\n".join(lines).encode())), "prompt-completion", report))
        return report.sha256

    compact = [json.dumps(r) for r in rows]
    spaced = [json.dumps(r, indent=None, separators=(" , ", " : ")) for r in rows]
    assert digest(compact) == digest(spaced) == digest([*compact, "{bad json"])
    assert digest(compact) != digest(compact[::-1])
    assert len(digest(compact)) == 64
