"""``kubetune history``: past training runs with their final loss, and comparisons with their verdicts, read from the
Postgres mirror (``kubetune.store``), which outlives the Kubernetes objects.

``load_history`` is the one place that queries the mirror; the rest renders ``HistoryRow``s.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from typing import Any

from .errors import EXIT_USAGE, CliError, UsageError
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
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


def load_history(database_url: str, namespace: str | None, limit: int) -> list[HistoryRow]:
    """The newest ``limit`` runs (all namespaces when ``namespace`` is None), newest first, from the mirror.

    The mirror's models live in ``kubetune.store``; this is the one function to wire to them.
    """
    try:
        import kubetune.store  # noqa: F401
    except ImportError as e:
        raise StoreUnavailable("kubetune history reads the Postgres mirror (kubetune.store), which this kubetune does "
                               "not include yet; kubetune get tj,mc shows the runs the cluster still has") from e
    raise StoreUnavailable("kubetune history is not wired to kubetune.store's tables yet "
                           "(kubetune.cli.history.load_history)")


def add_commands(subparsers: Any) -> None:
    history = subparsers.add_parser(
        "history", help="past training runs and comparisons, from the mirror database",
        description="Past TrainingJobs with their final loss and ModelComparisons with their verdicts, newest first, "
        "from kubetune's Postgres mirror (which keeps them after the Kubernetes objects are deleted).")
    history.add_argument("--database-url", default=os.environ.get(DATABASE_URL_ENV),
                         help=f"postgresql:// URL of the mirror (default: ${DATABASE_URL_ENV})")
    history.add_argument("-n", "--namespace", help="only this namespace")
    history.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (the default)")
    history.add_argument("--limit", type=int, default=50, help="most rows (default 50)")
    add_output_flag(history)
    history.set_defaults(handler=history_command)


def history_command(args: argparse.Namespace) -> int:
    if not args.database_url:
        raise UsageError(f"give --database-url or set {DATABASE_URL_ENV} (the mirror's Postgres)")
    if args.namespace and args.all_namespaces:
        raise UsageError("pass -n NAMESPACE or -A, not both")
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    rows = load_history(args.database_url, args.namespace, args.limit)
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
