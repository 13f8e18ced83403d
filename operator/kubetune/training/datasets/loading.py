"""The whole dataset step of a training run: read the source, validate, apply the rejection policy, split."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kubetune.api.trainer import DatasetConfig
from kubetune.training.errors import DatasetInvalid

from .lengths import TokenCounter
from .records import Example, ExampleKind, kind_of
from .sources import open_rows
from .split import bucket, split
from .validation import ValidationReport, validate

log = logging.getLogger(__name__)


@dataclass
class PreparedDataset:
    """Train and validation examples ready for the trainer, and the report of how they were obtained."""

    train: list[Example]
    validation: list[Example]
    report: ValidationReport
    kind: ExampleKind
    train_tokens: int | None


def check_rejections(report: ValidationReport, max_rejected_fraction: float) -> None:
    """The rejection policy: skip and count bad rows, but fail when too many are bad or none is good."""
    if report.rows == 0:
        raise DatasetInvalid("the dataset is empty: no rows")
    if report.accepted == 0:
        raise DatasetInvalid(f"no valid example in {report.rows} rows", report.error_lines())
    if report.rejected_fraction > max_rejected_fraction:
        raise DatasetInvalid(
            f"{report.rejected} of {report.rows} rows are invalid ({report.rejected_fraction:.1%}), more than "
            f"maxRejectedFraction {max_rejected_fraction:g}",
            report.error_lines(),
        )
    if report.rejected:
        log.warning("skipped %d invalid rows of %d; first: %s", report.rejected, report.rows, report.issues[0])


def load_dataset(
    config: DatasetConfig,
    *,
    counter: TokenCounter | None,
    max_seq_length: int | None,
    report: ValidationReport | None = None,
) -> PreparedDataset:
    """Read, validate, police and split ``config``'s rows. ``report`` (filled as rows are read) outlives a failure."""
    report = report if report is not None else ValidationReport()
    examples: list[Example] = []
    tokens: list[int] = []
    buckets: list[float] = []
    with open_rows(config) as rows:
        for accepted in validate(rows, config.format, report, counter=counter, max_seq_length=max_seq_length):
            examples.append(accepted.example)
            tokens.append(accepted.tokens or 0)
            buckets.append(bucket(accepted.canonical, config.seed))  # the canonical bytes are not kept
    check_rejections(report, config.max_rejected_fraction)
    train, validation = split(range(len(examples)), buckets, config.validation_split)
    log.info(
        "dataset: %d rows, %d valid (%d train, %d validation), %d rejected, sha256 %s",
        report.rows, report.accepted, len(train), len(validation), report.rejected, report.sha256,
    )
    return PreparedDataset(
        train=[examples[i] for i in train],
        validation=[examples[i] for i in validation],
        report=report,
        kind=kind_of(examples[0]),
        train_tokens=sum(tokens[i] for i in train) if counter else None,
    )
