"""The operator's own history records (what no Kubernetes object keeps), and the rows they become. Pure.

Each has a natural key, the same as its table's: a record written twice (a replay after an outage, a step fetched
again) is one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from .snapshots import parse_time

Json = dict[str, Any]
Action = Literal["load", "unload"]
Outcome = Literal["succeeded", "failed"]


@dataclass(frozen=True)
class MetricPoint:
    """One logged training step (``kubetune.api.trainer.HistoryPoint``, keyed by the job's uid)."""

    job_uid: str
    step: int
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    logged_at: datetime | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.job_uid, self.step)

    @classmethod
    def of(cls, job_uid: str, point: BaseModel | Mapping[str, Any]) -> MetricPoint:
        """From a HistoryPoint or its JSON (camelCase or snake_case keys)."""
        data = point.model_dump() if isinstance(point, BaseModel) else dict(point)

        def pick(snake: str, camel: str) -> Any:
            return data.get(snake, data.get(camel))

        def number(value: Any) -> float | None:
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

        return cls(job_uid=job_uid, step=int(data["step"]), epoch=number(data.get("epoch")),
                   loss=number(data.get("loss")), eval_loss=number(pick("eval_loss", "evalLoss")),
                   learning_rate=number(pick("learning_rate", "learningRate")),
                   tokens_per_second=number(pick("tokens_per_second", "tokensPerSecond")),
                   logged_at=_time(data.get("time", data.get("logged_at"))))

    def merged(self, other: MetricPoint) -> MetricPoint:
        """The same step seen twice: keep what is known, fill what was not (the database does the same)."""
        return MetricPoint(
            self.job_uid, self.step,
            epoch=_first(self.epoch, other.epoch), loss=_first(self.loss, other.loss),
            eval_loss=_first(self.eval_loss, other.eval_loss),
            learning_rate=_first(self.learning_rate, other.learning_rate),
            tokens_per_second=_first(self.tokens_per_second, other.tokens_per_second),
            logged_at=self.logged_at or other.logged_at)

    def row(self, now: datetime) -> Json:
        return {"job_uid": self.job_uid, "step": self.step, "epoch": self.epoch, "loss": self.loss,
                "eval_loss": self.eval_loss, "learning_rate": self.learning_rate,
                "tokens_per_second": self.tokens_per_second, "logged_at": self.logged_at, "recorded_at": now}


@dataclass(frozen=True)
class Deployment:
    """A load, unload or failed load of a model on one pod."""

    model_uid: str
    namespace: str
    model: str
    target: str
    pod: str
    action: Action
    outcome: Outcome
    occurred_at: datetime
    served_name: str | None = None
    latency_ms: float | None = None
    message: str | None = None

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        return (self.model_uid, self.pod, self.action, self.occurred_at)

    def row(self, now: datetime) -> Json:
        return {"model_uid": self.model_uid, "namespace": self.namespace, "model": self.model,
                "served_name": self.served_name, "target": self.target, "pod": self.pod, "action": self.action,
                "outcome": self.outcome, "message": self.message, "latency_ms": self.latency_ms,
                "occurred_at": self.occurred_at, "recorded_at": now}


# Field names a sample may use for each column, snake_case or camelCase.
_SAMPLE_COLUMNS = {
    "prompt": ("prompt",),
    "reference": ("reference",),
    "baseline_answer": ("baseline_answer", "baselineAnswer"),
    "candidate_answer": ("candidate_answer", "candidateAnswer"),
    "judge": ("judge", "judge_verdicts", "judgeVerdicts"),
    "metrics": ("metrics",),
    "latencies": ("latencies", "latency"),
}


_SIDE_METRICS = ("exactMatch", "tokenF1", "rougeL", "exact_match", "token_f1", "rouge_l")
_SIDE_LATENCIES = ("ttftMs", "tpotMs", "latencyMs", "itlMs", "outputTokens", "ttft_ms", "tpot_ms", "latency_ms",
                   "itl_ms", "output_tokens")


@dataclass(frozen=True)
class Sample:
    """One sample of a ModelComparison, keyed by its index in the comparison's prompt list."""

    comparison_uid: str
    index: int
    data: Json

    @property
    def key(self) -> tuple[str, int]:
        return (self.comparison_uid, self.index)

    @classmethod
    def of(cls, comparison_uid: str, sample: BaseModel | Mapping[str, Any]) -> Sample:
        """From the evaluator's sample (a pydantic model or its JSON): ``index`` (or ``id``) is required; the
        answers may be flat (``baselineAnswer``) or under ``baseline``/``candidate`` maps with an ``answer`` (and
        then their scores and timings beside it); the prompt is ``prompt`` or the last user message of
        ``messages``."""
        data = sample.model_dump(mode="json", by_alias=True) if isinstance(sample, BaseModel) else dict(sample)
        index = data.get("index", data.get("id"))
        if not isinstance(index, int) or isinstance(index, bool):
            raise ValueError("a comparison sample needs an integer index")
        return cls(comparison_uid, index, _without_nul(data))

    def row(self, now: datetime) -> Json:
        data = self.data
        values: Json = {}
        for column, names in _SAMPLE_COLUMNS.items():
            values[column] = next((data[n] for n in names if data.get(n) is not None), None)
        if values["prompt"] is None:
            values["prompt"] = _last_user_message(data.get("messages"))
        sides = {side: data[side] for side in ("baseline", "candidate") if isinstance(data.get(side), Mapping)}
        for side, nested in sides.items():
            if values[f"{side}_answer"] is None:
                values[f"{side}_answer"] = nested.get("answer")
        # The evaluator's records keep each side's scores and timings beside its answer: gather them per side.
        for column, names in (("metrics", _SIDE_METRICS), ("latencies", _SIDE_LATENCIES)):
            if values[column] is None:
                gathered = {side: {n: nested[n] for n in names if nested.get(n) is not None}
                            for side, nested in sides.items()}
                values[column] = {side: m for side, m in gathered.items() if m} or None
        for column in ("prompt", "reference", "baseline_answer", "candidate_answer"):
            if values[column] is not None and not isinstance(values[column], str):
                values[column] = str(values[column])
        for column in ("judge", "metrics", "latencies"):
            if values[column] is not None and not isinstance(values[column], Mapping):
                values[column] = {"value": values[column]}
        return {"comparison_uid": self.comparison_uid, "sample_index": self.index, **values, "data": data,
                "recorded_at": now}


def _last_user_message(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return str(message.get("content", ""))
    return None


def _first(mine: float | None, theirs: float | None) -> float | None:
    return mine if mine is not None else theirs


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return parse_time(value)


def _without_nul(value: Any) -> Any:
    # Postgres text and JSONB refuse NUL characters; a model can generate one.
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, Mapping):
        return {str(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


HistoryRecord = MetricPoint | Deployment | Sample
