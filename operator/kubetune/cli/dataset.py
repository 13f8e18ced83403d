"""``kubetune dataset validate FILE --format F`` checks a JSON Lines dataset the way a training pod will, and prints a
report (exit 0 when it passes, 1 when it does not). ``kubetune dataset export --query Q --format F -o FILE`` writes the
rows of a Postgres query as a dataset, streaming.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubetune.training.datasets.validation import ValidationReport

FORMATS = ("openai", "chatml", "alpaca", "sharegpt", "prompt-completion", "text")
DATABASE_URL_ENV = "KUBETUNE_DATABASE_URL"


def _mapping(value: str) -> tuple[str, str]:
    field, sep, column = value.partition("=")
    if not sep or not field or not column:
        raise argparse.ArgumentTypeError(f"expected FIELD=COLUMN, got {value!r}")
    return field, column


def add_commands(subparsers: Any) -> None:
    dataset = subparsers.add_parser("dataset", help="validate and export training datasets")
    commands = dataset.add_subparsers(dest="dataset_command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check a JSON Lines dataset and print a report",
        description="Check every row the way a training pod will: JSON and UTF-8, fields and roles, empty content, "
        "and (with --tokenizer) length in tokens. Exit 0 when the dataset passes, 1 when it does not.",
    )
    validate.add_argument("file", type=Path, help="a JSON Lines file (or a directory of them)")
    validate.add_argument("--format", "-f", required=True, choices=FORMATS, help="the row format")
    validate.add_argument("--tokenizer", type=Path, help="a model or tokenizer directory, to count tokens")
    validate.add_argument("--max-seq-length", type=int, help="reject longer examples (needs --tokenizer)")
    validate.add_argument(
        "--max-rejected-fraction", type=float, default=0.0,
        help="pass when at most this share of rows is invalid, as a TrainingJob's maxRejectedFraction (default 0)",
    )
    validate.add_argument("--errors", type=int, default=20, help="errors to list (default 20)")
    validate.set_defaults(handler=dataset_validate)

    export = commands.add_parser(
        "export",
        help="write the rows of a Postgres query as a JSON Lines dataset",
        description="Run QUERY read-only (with a statement timeout, through a server-side cursor) and write each row "
        "as a line of FORMAT. Memory stays flat whatever the number of rows.",
    )
    export.add_argument(
        "--database-url", default=os.environ.get(DATABASE_URL_ENV),
        help=f"postgresql:// URL (default: ${DATABASE_URL_ENV}, which keeps the password out of ps)",
    )
    export.add_argument("--query", "-q", required=True, help="the SELECT whose rows become examples")
    export.add_argument("--format", "-f", required=True, choices=FORMATS, help="the row format to write")
    export.add_argument(
        "--mapping", "-m", type=_mapping, action="append", default=[], metavar="FIELD=COLUMN",
        help="fill a format field from a column (repeatable); unmapped fields read the column of the same name",
    )
    export.add_argument("--output", "-o", required=True, help="the file to write, or - for stdout")
    export.add_argument("--fetch-size", type=int, default=5000, help="rows per round trip (default 5000)")
    export.add_argument("--statement-timeout", type=int, default=300, help="seconds per statement (default 300)")
    export.add_argument("--no-progress", action="store_true", help="no progress bar")
    export.set_defaults(handler=dataset_export)


# -- dataset validate ------------------------------------------------------------------------------------------------
def dataset_validate(args: argparse.Namespace) -> int:
    from kubetune.training.datasets.jsonl import read_jsonl
    from kubetune.training.datasets.sources import open_rows
    from kubetune.training.datasets.validation import ValidationReport, validate
    from kubetune.training.errors import TrainerError

    if args.max_seq_length is not None and args.tokenizer is None:
        print("kubetune: --max-seq-length needs --tokenizer (lengths are counted in the model's tokens)",
              file=sys.stderr)
        return 2
    counter = _token_counter(args.tokenizer) if args.tokenizer else None
    report = ValidationReport()
    try:
        if args.file.is_dir():
            from kubetune.api.trainer import DatasetConfig

            with open_rows(DatasetConfig(format=args.format, path=str(args.file))) as rows:
                for _ in validate(rows, args.format, report, counter=counter, max_seq_length=args.max_seq_length):
                    pass
        else:
            with args.file.open("rb") as stream:
                for _ in validate(read_jsonl(stream), args.format, report, counter=counter,
                                  max_seq_length=args.max_seq_length):
                    pass
    except (OSError, TrainerError) as e:
        print(f"kubetune: cannot read {args.file}: {e}", file=sys.stderr)
        return 1
    passed = report.accepted > 0 and report.rejected_fraction <= args.max_rejected_fraction
    print(format_report(args.file, args.format, report, passed, args.max_rejected_fraction, args.max_seq_length,
                        args.errors))
    return 0 if passed else 1


def _token_counter(path: Path) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    from kubetune.training.backends.chat import prepare_tokenizer
    from kubetune.training.datasets.lengths import TokenizerCounter

    return TokenizerCounter(prepare_tokenizer(AutoTokenizer.from_pretrained(path)))


def format_report(file: Path, fmt: str, report: ValidationReport, passed: bool, max_fraction: float,
                  max_seq_length: int | None, errors: int) -> str:
    lines = [
        f"{file}: {report.rows} rows, format {fmt}",
        f"  valid     {report.accepted}",
        f"  rejected  {report.rejected} ({report.rejected_fraction:.2%})",
    ]
    if report.tokens is not None:
        limit = f" (maxSeqLength {max_seq_length})" if max_seq_length else ""
        lines.append(f"  tokens    {report.tokens} in valid examples, longest {report.max_tokens}{limit}")
    lines.append(f"  sha256    {report.sha256}")
    if report.counts:
        lines.append("errors by kind:")
        lines += [f"  {code:<18} {n}" for code, n in report.counts.most_common()]
        shown = report.issues[:errors]
        lines.append(f"first {len(shown)} errors:" if report.rejected > len(shown) else "errors:")
        lines += [f"  {issue}" for issue in shown]
    if passed:
        lines.append("PASS")
    elif report.accepted == 0:
        lines.append("FAIL: no valid example")
    else:
        lines.append(f"FAIL: {report.rejected_fraction:.2%} of rows are invalid; at most {max_fraction:.2%} allowed")
    return "\n".join(lines)


# -- dataset export --------------------------------------------------------------------------------------------------
def dataset_export(args: argparse.Namespace) -> int:
    from kubetune.redaction import connection_secrets, redact
    from kubetune.training.datasets.export import export_query, export_to_file
    from kubetune.training.errors import TrainerError

    if not args.database_url:
        print(f"kubetune: give --database-url or set {DATABASE_URL_ENV}", file=sys.stderr)
        return 2
    secrets = connection_secrets(args.database_url)
    mapping = dict(args.mapping)
    bar = None if args.no_progress else _progress_bar()
    on_rows = bar.update if bar is not None else None
    options: dict[str, Any] = {"fetch_size": args.fetch_size, "timeout_seconds": args.statement_timeout,
                               "on_rows": on_rows}
    try:
        if args.output == "-":
            stats = export_query(args.database_url, args.query, args.format, mapping, sys.stdout, **options)
        else:
            stats = export_to_file(args.database_url, args.query, args.format, mapping, Path(args.output), **options)
    except TrainerError as e:
        print(f"kubetune: export failed: {redact(e.message, *secrets)}", file=sys.stderr)
        return 1
    except Exception:  # a bug: show its traceback, without the password Python's own printer would show
        print(f"kubetune: export failed:\n{redact(traceback.format_exc(), *secrets)}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    rate = stats.rows / stats.seconds if stats.seconds else 0.0
    print(f"exported {stats.rows} rows ({', '.join(stats.fields)}) to {args.output} in {stats.seconds:.2f}s "
          f"({rate:,.0f} rows/s)", file=sys.stderr)
    return 0


def _progress_bar() -> Any:
    from tqdm import tqdm

    return tqdm(unit=" rows", unit_scale=True, desc="export", file=sys.stderr, mininterval=0.5)

