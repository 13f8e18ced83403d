"""Comparisons: the list, one comparison's results (both models side by side, the win rate and its interval, latency
percentiles, the verdict), and its samples with the judge's verdicts, optionally only where the judge disagreed with
itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from ...store.tables import ComparisonSampleRow, FineTunedModelRow, ModelComparisonRow
from .rows import Json, get, mapping, session_on, utc

LIST_LIMIT = 500
SAMPLES_PAGE = 25
QUALITY = (("exactMatch", "Exact match"), ("tokenF1", "Token F1"), ("rougeL", "ROUGE-L"))
LATENCIES = (("ttftMs", "TTFT"), ("tpotMs", "TPOT"), ("itlMs", "ITL"), ("latencyMs", "Latency"))
PERCENTILES = ("p50", "p95", "p99")


@dataclass(frozen=True)
class Comparison:
    uid: str
    namespace: str
    name: str
    phase: str | None
    reason: str | None
    message: str | None
    baseline: str | None
    candidate: str | None
    verdict: str | None
    win_rate: float | None
    results: Json
    progress: Json
    created_at: datetime | None
    completed_at: datetime | None
    deleted_at: datetime | None

    @property
    def verdict_reason(self) -> str | None:
        return self.results.get("verdictReason")

    @property
    def verdict_message(self) -> str | None:
        return self.results.get("verdictMessage")

    @property
    def win(self) -> Json:
        return mapping(self.results.get("winRate"))


@dataclass(frozen=True)
class Judgement:
    verdicts: list[str]
    """Each game's verdict, in order: who the judge preferred with the answers in that order."""
    winner: str | None
    inconsistent: bool


@dataclass(frozen=True)
class SampleView:
    index: int
    prompt: str | None
    reference: str | None
    baseline_answer: str | None
    candidate_answer: str | None
    judge: Judgement | None
    metrics: Json
    latencies: Json


@dataclass(frozen=True)
class SamplesPage:
    samples: list[SampleView]
    total: int
    """Samples matching the filter."""
    all_samples: int
    disagreements: int
    offset: int
    limit: int


def _comparison(row: ModelComparisonRow) -> Comparison:
    status = mapping(row.status)
    return Comparison(uid=row.uid, namespace=row.namespace, name=row.name, phase=row.phase, reason=row.reason,
                      message=row.message, baseline=row.baseline, candidate=row.candidate, verdict=row.verdict,
                      win_rate=row.win_rate, results=mapping(row.results), progress=mapping(status.get("progress")),
                      created_at=utc(row.created_at), completed_at=utc(row.completed_at),
                      deleted_at=utc(row.deleted_at))


def list_comparisons(connection: Connection, namespace: str | None = None,
                     limit: int = LIST_LIMIT) -> list[Comparison]:
    query = select(ModelComparisonRow)
    if namespace:
        query = query.where(ModelComparisonRow.namespace == namespace)
    query = query.order_by(ModelComparisonRow.created_at.desc(), ModelComparisonRow.name).limit(limit)
    with session_on(connection) as session:
        return [_comparison(row) for row in session.scalars(query)]


def latest_verdicts(connection: Connection, limit: int = 5) -> list[Comparison]:
    query = (select(ModelComparisonRow).where(ModelComparisonRow.verdict.is_not(None))
             .order_by(ModelComparisonRow.completed_at.desc().nulls_last(), ModelComparisonRow.created_at.desc())
             .limit(limit))
    with session_on(connection) as session:
        return [_comparison(row) for row in session.scalars(query)]


def counts_by_phase(connection: Connection) -> dict[str, int]:
    query = (select(ModelComparisonRow.phase, func.count()).where(ModelComparisonRow.deleted_at.is_(None))
             .group_by(ModelComparisonRow.phase))
    return {str(phase or "Unknown"): int(n) for phase, n in connection.execute(query)}


def get_comparison(connection: Connection, uid: str) -> tuple[Comparison, dict[str, str]] | None:
    """The comparison, and the uids of the FineTunedModels its sides name (for links)."""
    with session_on(connection) as session:
        row = session.get(ModelComparisonRow, uid)
        if row is None:
            return None
        names = [n for n in (row.baseline, row.candidate) if n]
        links = {}
        for found in session.scalars(select(FineTunedModelRow).where(
                FineTunedModelRow.namespace == row.namespace,
                FineTunedModelRow.name.in_(names) | FineTunedModelRow.served_name.in_(names))):
            for name in names:
                if name in (found.name, found.served_name):
                    links[name] = found.uid
        return _comparison(row), links


def _judgement(value: Any) -> Judgement | None:
    if not isinstance(value, dict) or not value:
        return None
    verdicts = []
    for game in value.get("games") or []:
        if isinstance(game, dict):
            verdict = game.get("verdict")
            # "A"/"B" name positions; say which model that was, as the judge saw them in that game.
            if verdict == "A":
                verdict = game.get("a")
            elif verdict == "B":
                verdict = game.get("b")
            verdicts.append(str(verdict))
    return Judgement(verdicts=verdicts, winner=value.get("winner"), inconsistent=bool(value.get("inconsistent")))


def _sample(row: ComparisonSampleRow) -> SampleView:
    return SampleView(index=row.sample_index, prompt=row.prompt, reference=row.reference,
                      baseline_answer=row.baseline_answer, candidate_answer=row.candidate_answer,
                      judge=_judgement(row.judge), metrics=mapping(row.metrics), latencies=mapping(row.latencies))


def samples(connection: Connection, uid: str, only_disagreements: bool = False, offset: int = 0,
            limit: int = SAMPLES_PAGE) -> SamplesPage:
    """A page of samples in index order. A disagreement: the judge, asked twice with the answers swapped, gave two
    verdicts that do not agree (the evaluator counts the pair as a tie)."""
    rows = connection.execute(
        select(ComparisonSampleRow.sample_index, ComparisonSampleRow.judge)
        .where(ComparisonSampleRow.comparison_uid == uid).order_by(ComparisonSampleRow.sample_index)).all()
    disagreeing = [index for index, judge in rows if get(judge, "inconsistent") is True]
    chosen = disagreeing if only_disagreements else [index for index, _ in rows]
    window = chosen[offset:offset + limit]
    with session_on(connection) as session:
        found = session.scalars(select(ComparisonSampleRow).where(
            ComparisonSampleRow.comparison_uid == uid, ComparisonSampleRow.sample_index.in_(window))
            .order_by(ComparisonSampleRow.sample_index)).all() if window else []
        views = [_sample(row) for row in found]
    return SamplesPage(samples=views, total=len(chosen), all_samples=len(rows), disagreements=len(disagreeing),
                       offset=offset, limit=limit)


def latency_chart(results: Json) -> Json:
    """Chart.js data for the latency percentiles: one group per metric and percentile, one dataset per model."""
    labels = [f"{title} {p}" for key, title in LATENCIES for p in PERCENTILES
              if any(get(results, side, key, p) is not None for side in ("baseline", "candidate"))]
    datasets = []
    for side in ("baseline", "candidate"):
        values = []
        for key, title in LATENCIES:
            for p in PERCENTILES:
                if f"{title} {p}" in labels:
                    value = get(results, side, key, p)
                    values.append(round(float(value), 3) if isinstance(value, int | float) else None)
        datasets.append({"label": side, "data": values})
    return {"labels": labels, "datasets": datasets}


def win_rate_chart(results: Json) -> Json:
    """Chart.js data for the win rate: the 95% interval as a floating bar and the estimate as a point, on 0..1."""
    win = mapping(results.get("winRate"))
    ci = win.get("ci95")
    estimate = win.get("candidate")
    return {"estimate": estimate, "ci95": ci if isinstance(ci, list) and len(ci) == 2 else None,
            "n": win.get("n"), "ties": win.get("ties"), "wins": win.get("wins"), "losses": win.get("losses"),
            "basis": win.get("basis")}
