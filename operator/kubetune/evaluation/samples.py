"""Every sample as one JSON Lines record, appended and fsync'd as it completes, and the resume that reads them back.

A record holds the prompt, the reference, both answers with their timings and reference scores, the judge's games,
the prompt's digest and the ``attempt`` (pod run) that made it. A pod killed mid-write leaves at most a partial last
line, which the next pod cuts off before it appends; it then skips every prompt already recorded, so the file ends
with each drawn prompt exactly once.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import Answer
from .errors import ConfigInvalid
from .judge import Judgement
from .prompts import Prompt
from .scoring import ReferenceScores

log = logging.getLogger(__name__)


def answer_record(answer: Answer, scores: ReferenceScores | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "answer": answer.text, "error": answer.error, "url": answer.url, "attempts": answer.attempts,
        "sentAt": answer.sent_at, "endedAt": answer.ended_at, "ttftMs": answer.ttft_ms, "tpotMs": answer.tpot_ms,
        "latencyMs": answer.latency_ms, "itlMs": answer.itl_ms, "outputTokens": answer.output_tokens,
    }
    if scores is not None:
        record.update(exactMatch=scores.exact_match, tokenF1=scores.token_f1, rougeL=scores.rouge_l)
    return record


def judge_record(judgement: Judgement | None) -> dict[str, Any] | None:
    if judgement is None:
        return None
    return {"games": [{"a": g.a, "b": "candidate" if g.a == "baseline" else "baseline", "verdict": g.label}
                      for g in judgement.games],
            "winner": judgement.winner, "inconsistent": judgement.inconsistent, "error": judgement.error}


def sample_record(prompt: Prompt, attempt: int, baseline: dict[str, Any], candidate: dict[str, Any],
                  judge: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": prompt.id, "promptSha256": prompt.sha256, "attempt": attempt, "messages": list(prompt.messages),
            "reference": prompt.reference, "baseline": baseline, "candidate": candidate, "judge": judge}


@dataclass
class Resumed:
    records: list[dict[str, Any]]
    attempt: int
    """The attempt number of this pod: one more than the highest on disk."""


class SamplesFile:
    """Append-only JSON Lines; ``None`` path keeps the records in memory only."""

    def __init__(self, path: Path | None, redact: Callable[[str], str] = lambda text: text) -> None:
        self.path = path
        self.redact = redact
        self._file: Any = None

    def resume(self, drawn: list[Prompt]) -> Resumed:
        """Read what earlier pods wrote (cutting a partial last line) and check it belongs to these prompts."""
        if self.path is None or not self.path.exists():
            return Resumed([], 1)
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            log.warning("cutting a partial last line (%d bytes) from %s", len(data) - len(complete), self.path)
            with self.path.open("r+b") as f:
                f.truncate(len(complete))
                os.fsync(f.fileno())
        by_id = {p.id: p for p in drawn}
        records: dict[int, dict[str, Any]] = {}
        for number, line in enumerate(complete.splitlines(), start=1):
            try:
                record = json.loads(line)
                prompt = by_id.get(record["id"])
            except (ValueError, KeyError, TypeError) as e:
                raise ConfigInvalid(f"samples file {self.path} line {number} is not a sample record: {e}") from e
            if prompt is None or record.get("promptSha256") != prompt.sha256:
                raise ConfigInvalid(f"samples file {self.path} line {number} was written for other prompts (prompt "
                                    f"{record.get('id')}); use a new output directory")
            if record["id"] in records:
                log.warning("samples file %s line %d repeats prompt %d; the first is kept", self.path, number,
                            record["id"])
                continue
            records[record["id"]] = record
        attempt = 1 + max((int(r.get("attempt", 1)) for r in records.values()), default=0)
        return Resumed(list(records.values()), attempt)

    def open(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")

    def append(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        line = self.redact(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        self._file.write(line.encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
