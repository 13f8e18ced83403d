"""One evaluation, from config to results.

Both models answer the same prompts with the same request (messages, sampling parameters, seed), streamed, in the
same order. Each model has ``concurrency`` workers, so it always has that many requests in flight, as ``vllm bench
serve --max-concurrency`` keeps them (a model is never held back waiting for the other's answer to the same prompt,
which would cap the faster model's throughput at the slower one's); neither takes a prompt more than ``concurrency``
ahead of the other, so the two are measured over the same moments. A prompt whose two answers are in goes to the
judge (its own ``concurrency`` workers, so judging never holds back the models), then it is scored, appended to the
samples file and counted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.api.evaluator import SAMPLES_FILE, EvaluatorConfig, ModelProgress
from kubetune.api.modelcomparison import Results

from . import aggregate
from .client import Answer, ModelClient
from .errors import EndpointErrors, EvaluatorError
from .judge import Judge, Judgement
from .progress import ProgressTracker
from .prompts import Prompt, draw, load_prompts
from .samples import SamplesFile, answer_record, judge_record, sample_record
from .scoring import score
from .secrets import Secrets

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0


@dataclass
class RunFacts:
    """What is known as the run goes, so a failure's termination message still says it."""

    resumed: int | None = None
    samples_file: str | None = None
    first_error: str | None = None


@dataclass
class _Counters:
    in_flight: int = 0
    attempt_errors: int = 0
    failed: dict[str, int] = field(default_factory=lambda: {"baseline": 0, "candidate": 0, "judge": 0})


class _Lanes:
    """The prompts to do, taken in the same order by each model's workers; a model never takes one more than
    ``ahead`` prompts past the other's."""

    def __init__(self, todo: list[tuple[int, Prompt]], ahead: int) -> None:
        self.todo = todo
        self.ahead = max(1, ahead)
        self.taken = dict.fromkeys(aggregate.ROLES, 0)
        self.moved = asyncio.Condition()

    def _may_take(self, role: str) -> bool:
        mine = self.taken[role]
        others = min(n for r, n in self.taken.items() if r != role)
        return mine >= len(self.todo) or mine < others + self.ahead

    async def take(self, role: str) -> tuple[int, Prompt] | None:
        async with self.moved:
            await self.moved.wait_for(lambda: self._may_take(role))
            position = self.taken[role]
            if position >= len(self.todo):
                return None
            self.taken[role] = position + 1
            self.moved.notify_all()
            return self.todo[position]


class Evaluation:
    def __init__(self, config: EvaluatorConfig, tracker: ProgressTracker, secrets: Secrets, facts: RunFacts) -> None:
        self.config = config
        self.tracker = tracker
        self.secrets = secrets
        self.facts = facts
        self.counters = _Counters()
        self.records: list[dict[str, Any]] = []
        self._last_progress = 0.0
        self.allowed_failures = 0
        self.attempt = 1
        self.samples: SamplesFile | None = None
        self._unpaired: dict[int, dict[str, Answer]] = {}

    # -- errors ------------------------------------------------------------------------------------------------
    def _attempt_failed(self, role: str, message: str) -> None:
        self.counters.attempt_errors += 1
        if self.facts.first_error is None:
            self.facts.first_error = self.secrets.redact(f"{role}: {message}")
            log.warning("first request error: %s", self.facts.first_error)

    def _count_failure(self, role: str, model: str) -> None:
        self.counters.failed[role] += 1
        failed = self.counters.failed[role]
        if failed > self.allowed_failures:
            raise EndpointErrors(
                f"{role} ({model}): {failed} requests failed after retries, more than maxErrorRate "
                f"{self.config.failures.max_error_rate:g} of {self.total} prompts allows ({self.allowed_failures}); "
                f"first error: {self.facts.first_error}")

    # -- progress ----------------------------------------------------------------------------------------------
    def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_EVERY_SECONDS:
            return
        self._last_progress = now
        done = len(self.records)
        seconds = aggregate.active_seconds(self.records)
        figures = {}
        for role in aggregate.ROLES:
            m = aggregate.model_results(self.records, role, seconds)
            figures[role] = ModelProgress(
                completed=m.completed or 0, errors=m.errors or 0,
                ttft_p50_ms=m.ttft_ms.p50 if m.ttft_ms else None,
                latency_p50_ms=m.latency_ms.p50 if m.latency_ms else None,
                output_tokens_per_second=m.output_tokens_per_second, exact_match=m.exact_match,
                token_f1=m.token_f1, rouge_l=m.rouge_l)
        pairs = [r for r in self.records if r["baseline"]["error"] is None and r["candidate"]["error"] is None]
        basis = "judge" if self.config.judge else self.config.verdict.primary_metric
        winners = [aggregate._pair_winner(r, basis) for r in pairs]
        decided = [w for w in winners if w is not None]
        rate = (decided.count("candidate") + decided.count("tie") / 2) / len(decided) if decided else None
        self.tracker.update(
            baseline=figures["baseline"], candidate=figures["candidate"], done=done,
            in_flight=self.counters.in_flight, errors=self.counters.attempt_errors,
            percent=round(100.0 * done / self.total, 2) if self.total else None,
            win_rate=round(rate, 4) if rate is not None else None)

    # -- the work ----------------------------------------------------------------------------------------------
    def _finish(self, prompt: Prompt, baseline: Answer, candidate: Answer, judgement: Judgement | None) -> None:
        def scored(answer: Answer) -> dict[str, Any]:
            scores = score(answer.text, prompt.reference) if answer.ok and answer.text is not None and \
                prompt.reference is not None else None
            return answer_record(answer, scores)

        record = sample_record(prompt, self.attempt, scored(baseline), scored(candidate), judge_record(judgement))
        assert self.samples is not None
        self.samples.append(record)
        self.records.append(record)
        self.tracker.add_samples([record])
        self._publish()

    async def _model_worker(self, role: str, client: ModelClient, lanes: _Lanes,
                            judging: asyncio.Queue[Any] | None) -> None:
        while (item := await lanes.take(role)) is not None:
            index, prompt = item
            self.counters.in_flight += 1
            try:
                answer = await client.answer(index, list(prompt.messages))
            finally:
                self.counters.in_flight -= 1
            if not answer.ok:
                self._count_failure(role, client.target.model)
            answers = self._unpaired.setdefault(index, {})
            answers[role] = answer
            if len(answers) < len(aggregate.ROLES):
                continue  # the other model's answer completes the sample
            del self._unpaired[index]
            baseline, candidate = answers["baseline"], answers["candidate"]
            if judging is not None and baseline.ok and candidate.ok:
                await judging.put((index, prompt, baseline, candidate))
            else:
                self._finish(prompt, baseline, candidate, None)

    async def _judge_worker(self, judging: asyncio.Queue[Any], judge: Judge) -> None:
        while True:
            item = await judging.get()
            if item is None:
                return
            index, prompt, baseline, candidate = item
            self.counters.in_flight += 2 if judge.target.position_swap else 1
            try:
                judgement = await judge.judge(index, prompt.question, baseline.text, candidate.text,
                                              prompt.reference)
            finally:
                self.counters.in_flight -= 2 if judge.target.position_swap else 1
            if judgement.error is not None:
                self._count_failure("judge", judge.target.model)
            self._finish(prompt, baseline, candidate, judgement)

    async def run(self) -> Results:
        config = self.config
        self.tracker.update(phase="Loading")
        warm_up()
        drawn = draw(load_prompts(config.prompts), config.samples, config.verdict.seed)
        self.total = len(drawn)
        self.allowed_failures = math.floor(config.failures.max_error_rate * self.total)
        path = Path(config.output.dir) / SAMPLES_FILE if config.output.dir else None
        self.facts.samples_file = str(path) if path else None
        self.samples = SamplesFile(path, self.secrets.redact)
        resumed = self.samples.resume(drawn)
        self.records, self.attempt = list(resumed.records), resumed.attempt
        self.tracker.add_samples(self.records)
        self.facts.resumed = len(self.records)
        for record in self.records:  # failures already on disk count against the threshold too
            for role in aggregate.ROLES:
                if record[role].get("error") is not None:
                    self.counters.failed[role] += 1
            if (record.get("judge") or {}).get("error"):
                self.counters.failed["judge"] += 1
        done = {r["id"] for r in self.records}
        todo = [(i, p) for i, p in enumerate(drawn) if p.id not in done]
        if self.records:
            log.info("resuming: %d of %d samples already in %s (attempt %d)", len(self.records), self.total, path,
                     self.attempt)

        keys = {role: self.secrets.api_key(getattr(config, role).api_key_env, role)
                for role in ("baseline", "candidate")}
        judge_key = self.secrets.api_key(config.judge.api_key_env, "judge") if config.judge else None
        clients = {role: ModelClient(getattr(config, role), keys[role], config.sampling, config.failures,
                                     config.concurrency, on_attempt_failed=self._failure_hook(role))
                   for role in ("baseline", "candidate")}
        judge = Judge(config.judge, judge_key, config.failures,
                      on_attempt_failed=self._failure_hook("judge")) if config.judge else None
        lanes = _Lanes(todo, ahead=config.concurrency)
        judging: asyncio.Queue[Any] | None = asyncio.Queue() if judge else None
        self.samples.open()
        self.tracker.update(phase="Running", total=self.total, done=len(self.records), resumed=len(self.records))
        log.info("evaluating %d prompts (%d to go): %s vs %s, concurrency %d per model", self.total, len(todo),
                 config.baseline.model, config.candidate.model, config.concurrency)
        try:
            async with asyncio.TaskGroup() as outer:
                judges = [outer.create_task(self._judge_worker(judging, judge))
                          for _ in range(config.concurrency)] if judge and judging else []
                async with asyncio.TaskGroup() as models:
                    for role, client in clients.items():
                        for _ in range(min(config.concurrency, len(todo))):
                            models.create_task(self._model_worker(role, client, lanes, judging))
                for _ in judges:
                    assert judging is not None
                    judging.put_nowait(None)
        except* EvaluatorError as group:
            raise _first(group) from None
        finally:
            self.samples.close()
            await asyncio.gather(*(c.close() for c in clients.values()), *([judge.close()] if judge else []))
        self._publish(force=True)
        self.tracker.update(phase="Scoring")
        return aggregate.results(self.records, config.verdict, judged=config.judge is not None)

    def _failure_hook(self, role: str) -> Any:
        return lambda message: self._attempt_failed(role, message)


def warm_up() -> None:
    """Import the scoring and statistics libraries before the first request: importing them mid-run (seconds on a
    busy node) would stall the event loop and inflate every latency in flight."""
    from scipy.stats import bootstrap  # noqa: F401
    from statsmodels.stats.proportion import proportion_confint  # noqa: F401

    from .scoring import rouge_l

    rouge_l("warm", "warm up")


def _first(error: BaseException) -> BaseException:
    """The first leaf of nested task-group errors: the one that stopped the run."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
