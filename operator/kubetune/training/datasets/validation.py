"""Validate a stream of rows: normalise each, check its length in tokens, and keep a report of what was rejected."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .formats import normalise
from .jsonl import Row
from .lengths import TokenCounter
from .records import TOO_LONG, Example, Issue, RowInvalid
from .split import Digest, canonical

MAX_KEPT_ISSUES = 100
BATCH = 256


@dataclass(frozen=True)
class Accepted:
    """A valid example, with its canonical bytes (for the split) and its length in tokens (None without a tokenizer)."""

    example: Example
    canonical: bytes
    tokens: int | None


@dataclass
class ValidationReport:
    """What a pass over the rows found. Only the first ``MAX_KEPT_ISSUES`` issues are kept; ``counts`` has them all."""

    rows: int = 0
    accepted: int = 0
    issues: list[Issue] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    tokens: int | None = None
    max_tokens: int | None = None
    sha256: str = ""

    @property
    def rejected(self) -> int:
        return self.rows - self.accepted

    @property
    def rejected_fraction(self) -> float:
        return self.rejected / self.rows if self.rows else 0.0

    def reject(self, issue: Issue) -> None:
        self.counts[issue.code] += 1
        if len(self.issues) < MAX_KEPT_ISSUES:
            self.issues.append(issue)

    def error_lines(self, limit: int = 20) -> list[str]:
        return [str(i) for i in self.issues[:limit]]


def validate(
    rows: Iterable[Row],
    fmt: str,
    report: ValidationReport,
    *,
    counter: TokenCounter | None = None,
    max_seq_length: int | None = None,
) -> Iterator[Accepted]:
    """Yield the valid examples of ``rows`` in order; record every row (valid or not) in ``report``."""
    digest = Digest()
    pending: list[tuple[str | None, int, Example]] = []

    def flush() -> Iterator[Accepted]:
        lengths: list[int | None] = list(counter.count([e for _, _, e in pending])) if counter else [None] * len(
            pending)
        for (file, line, example), tokens in zip(pending, lengths, strict=True):
            if tokens is not None and max_seq_length is not None and tokens > max_seq_length:
                report.reject(Issue(line, "(example)", TOO_LONG,
                                    f"{tokens} tokens, more than maxSeqLength {max_seq_length}", file))
                continue
            data = canonical(example)
            digest.add(data)
            report.accepted += 1
            if tokens is not None:
                report.tokens = (report.tokens or 0) + tokens
                report.max_tokens = max(report.max_tokens or 0, tokens)
            yield Accepted(example, data, tokens)
        pending.clear()

    for file, line, value in rows:
        report.rows += 1
        if isinstance(value, Issue):
            report.reject(value)
            continue
        try:
            pending.append((file, line, normalise(fmt, value)))
        except RowInvalid as e:
            report.reject(Issue(line, e.field, e.code, e.problem, file))
            continue
        if len(pending) >= BATCH:
            yield from flush()
    yield from flush()
    report.sha256 = digest.hexdigest()
