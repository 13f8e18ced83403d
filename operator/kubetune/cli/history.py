"""``kubetune history``: past training runs with their final loss, and comparisons with their verdicts, read from the
database mirror (``kubetune.store``), which outlives the Kubernetes objects.

``load_history`` is the one place that queries the mirror; the rest renders ``HistoryRow``s.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from typing import Any

from .errors import EXIT_CLUSTER, CliError, UsageError
from .flags import add_output_flag

DATABASE_URL_ENV = "KUBETUNE_DATABASE_URL"


@dataclass(frozen=True)
class HistoryRow:
    """One finished (or running) TrainingJob or ModelComparison, as the mirror recorded it."""

    kind: str  # TrainingJob | ModelComparison
    namespace: str
    name: str
    phase: str
    started: str | None = None  # RFC 3339
    finished: str | None = None
    model: str | None = None  # the FineTunedModel a TrainingJob registered; "candidate vs baseline" for a comparison
    final_loss: float | None = None
    eval_loss: float | None = None
    steps: int | None = None
    verdict: str | None = None
    win_rate: float | None = None
    reason: str | None = None


class StoreUnavailable(CliError):
    """The mirror's database cannot be read (down, wrong credentials, not migrated)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_CLUSTER)


def _stamp(moment: Any) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def load_history(database_url: str, namespace: str | None, limit: int) -> list[HistoryRow]:
    """The newest ``limit`` runs (all namespaces when ``namespace`` is None), newest first, from the mirror: read-only,
    and deleted objects included (the mirror keeps them with deleted_at)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from kubetune.store import StoreError, redact
    from kubetune.store.database import make_engine
    from kubetune.store.tables import ModelComparisonRow, TrainingJobRow

    try:
        engine = make_engine(database_url)
    except StoreError as e:
        raise UsageError(str(e)) from None
    rows: list[HistoryRow] = []
    try:
        with engine.connect() as conn:
            jobs = select(TrainingJobRow).order_by(TrainingJobRow.created_at.desc()).limit(limit)
            comparisons = select(ModelComparisonRow).order_by(ModelComparisonRow.created_at.desc()).limit(limit)
            if namespace:
                jobs = jobs.where(TrainingJobRow.namespace == namespace)
                comparisons = comparisons.where(ModelComparisonRow.namespace == namespace)
            for job in conn.execute(jobs).mappings():
                metrics = job["metrics"] or {}
                rows.append(HistoryRow(
                    kind="TrainingJob", namespace=job["namespace"], name=job["name"], phase=job["phase"] or "-",
                    started=_stamp(job["started_at"] or job["created_at"]), finished=_stamp(job["completed_at"]),
                    model=job["registered_model"], final_loss=metrics.get("trainLoss"),
                    eval_loss=metrics.get("evalLoss"), steps=metrics.get("steps"), reason=job["reason"]))
            for mc in conn.execute(comparisons).mappings():
                rows.append(HistoryRow(
                    kind="ModelComparison", namespace=mc["namespace"], name=mc["name"], phase=mc["phase"] or "-",
                    started=_stamp(mc["started_at"] or mc["created_at"]), finished=_stamp(mc["completed_at"]),
                    model=f"{mc['candidate']} vs {mc['baseline']}" if mc["candidate"] else None,
                    verdict=mc["verdict"], win_rate=mc["win_rate"], reason=mc["reason"]))
    except SQLAlchemyError as e:
        cause = getattr(e, "orig", None) or e
        raise StoreUnavailable(f"cannot read the mirror at {redact(database_url)}: "
                               f"{str(cause).strip().splitlines()[0]}") from None
    finally:
        engine.dispose()
    rows.sort(key=lambda r: r.finished or r.started or "", reverse=True)
    return rows[:limit]


def add_commands(subparsers: Any) -> None:
    history = subparsers.add_parser(
        "history", help="past training runs and comparisons, from the mirror database",
        description="Past TrainingJobs with their final loss and ModelComparisons with their verdicts, newest first, "
        "from kubetune's Postgres mirror (which keeps them after the Kubernetes objects are deleted).")
    history.add_argument("--database-url", default=os.environ.get(DATABASE_URL_ENV, ""),
                         help=f"the mirror's database (default: ${DATABASE_URL_ENV}, else the embedded SQLite file "
                         "under $KUBETUNE_STATE_DIR, as the operator resolves it)")
    history.add_argument("-n", "--namespace", help="only this namespace")
    history.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (the default)")
    history.add_argument("--limit", type=int, default=50, help="most rows (default 50)")
    add_output_flag(history)
    history.set_defaults(handler=history_command)


def history_command(args: argparse.Namespace) -> int:
    from kubetune.store import resolve_url

    url = resolve_url(args.database_url, os.environ.get("KUBETUNE_STATE_DIR", ""))
    if args.namespace and args.all_namespaces:
        raise UsageError("pass -n NAMESPACE or -A, not both")
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    rows = load_history(url, args.namespace, args.limit)
    show(rows, args.output, namespaces=not args.namespace)
    return 0


def table_rows(rows: list[HistoryRow], wide: bool, namespaces: bool) -> tuple[list[str], list[list[str]]]:
    from .output import age, number

    headers = [*(["NAMESPACE"] if namespaces else []), "KIND", "NAME", "PHASE", "MODEL", "FINAL LOSS", "VERDICT",
               "FINISHED"]
    if wide:
        headers += ["EVAL LOSS", "STEPS", "WIN RATE", "REASON"]
    out = []
    for r in rows:
        cells = [*([r.namespace] if namespaces else []), {"TrainingJob": "tj", "ModelComparison": "mc"}.get(
            r.kind, r.kind), r.name, r.phase, r.model or "-", number(r.final_loss, 4), r.verdict or "-",
            f"{age(r.finished)} ago" if r.finished else "-"]
        if wide:
            cells += [number(r.eval_loss, 4), number(r.steps), number(r.win_rate, 3), r.reason or "-"]
        out.append(cells)
    return headers, out


def show(rows: list[HistoryRow], fmt: str, namespaces: bool) -> None:
    from .output import console, dump, print_table

    out = console()
    if fmt in ("json", "yaml"):
        dump(out, [{k: v for k, v in asdict(r).items() if v is not None} for r in rows], fmt)
        return
    if not rows:
        console(stderr=True).print("No runs recorded.")
        return
    headers, cells = table_rows(rows, fmt == "wide", namespaces)
    print_table(out, headers, cells)
