"""The pairwise judge, after MT-Bench (lm-sys/FastChat ``llm_judge``): each pair is shown twice with the answers'
positions swapped; the pair goes to a model only when both verdicts name it, and a disagreement is a tie (an
"inconsistent" pair). The judge's answer is constrained by vLLM's structured outputs to one of ``A``, ``B`` or
``tie``, so even a small judge yields a valid label.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import openai

from kubetune.api.evaluator import FailurePolicy, JudgeTarget

from .client import describe

log = logging.getLogger(__name__)

Label = Literal["A", "B", "tie"]
Winner = Literal["candidate", "baseline", "tie"]
CHOICES: list[str] = ["A", "B", "tie"]

# MT-Bench's pairwise instructions, shortened to fit small judges' context windows.
SYSTEM = (
    "You are an impartial judge. Compare two assistants' answers to the user's question and decide which is more "
    "helpful, correct and relevant. Ignore the order of the answers and their length. Answer with one word: "
    "A if assistant A is better, B if assistant B is better, tie if they are equally good."
)


def judge_prompt(question: str, first: str, second: str, reference: str | None) -> str:
    parts = [f"[Question]\n{question}"]
    if reference is not None:
        parts.append(f"[Reference answer]\n{reference}")
    parts += [f"[Assistant A]\n{first}", f"[Assistant B]\n{second}", "[Verdict: A, B or tie]"]
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Game:
    """One judge call: which model stood as A, and the label."""

    a: Literal["baseline", "candidate"]
    label: Label

    @property
    def winner(self) -> Winner:
        if self.label == "tie":
            return "tie"
        b: Winner = "candidate" if self.a == "baseline" else "baseline"
        return self.a if self.label == "A" else b


@dataclass
class Judgement:
    games: list[Game]
    error: str | None = None

    @property
    def winner(self) -> Winner | None:
        if self.error is not None or not self.games:
            return None
        winners = {g.winner for g in self.games}
        return winners.pop() if len(winners) == 1 else "tie"

    @property
    def inconsistent(self) -> bool | None:
        """Whether the two orders disagreed; None when the pair was judged once."""
        if self.error is not None or len(self.games) < 2:
            return None
        return self.games[0].winner != self.games[1].winner


class Judge:
    def __init__(self, target: JudgeTarget, api_key: str | None, failures: FailurePolicy,
                 on_attempt_failed: Callable[[str], None] | None = None) -> None:
        self.target = target
        self.failures = failures
        self.calls = 0
        self._on_attempt_failed = on_attempt_failed or (lambda message: None)
        self._clients = [
            openai.AsyncOpenAI(base_url=url.rstrip("/") + "/v1", api_key=api_key or "none", max_retries=0,
                               timeout=failures.request_timeout_seconds)
            for url in target.urls
        ]

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self._clients), return_exceptions=True)

    async def _ask(self, index: int, prompt: str) -> Label:
        delay = self.failures.backoff_seconds
        error = "no attempt"
        for attempt in range(self.failures.retries + 1):
            client = self._clients[(index + attempt) % len(self._clients)]
            try:
                response = await client.chat.completions.create(
                    model=self.target.model,
                    messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
                    max_tokens=4, temperature=0.0, seed=0,
                    extra_body={"structured_outputs": {"choice": CHOICES}},
                )
                self.calls += 1
                label = (response.choices[0].message.content or "").strip()
                if label in CHOICES:
                    return label  # type: ignore[return-value]
                error, retriable = f"the judge answered {label[:40]!r}, not A, B or tie", False
            except asyncio.CancelledError:
                raise
            except Exception as e:
                error, retriable = describe(e)
            self._on_attempt_failed(error)
            if not retriable:
                break
            if attempt < self.failures.retries:
                await asyncio.sleep(delay)
                delay *= 2
        raise RuntimeError(error)

    async def judge(self, index: int, question: str, baseline: str, candidate: str,
                    reference: str | None) -> Judgement:
        """Both orders at once (or baseline as A only, without position swap)."""
        orders: list[Literal["baseline", "candidate"]] = ["baseline", "candidate"] if self.target.position_swap \
            else ["baseline"]
        prompts = [judge_prompt(question, baseline, candidate, reference) if a == "baseline"
                   else judge_prompt(question, candidate, baseline, reference) for a in orders]
        labels = await asyncio.gather(*(self._ask(index, p) for p in prompts), return_exceptions=True)
        errors = [str(label) for label in labels if isinstance(label, BaseException)]
        if errors:
            return Judgement([], error=errors[0])
        return Judgement([Game(a, label) for a, label in zip(orders, labels, strict=True)])  # type: ignore[arg-type]
