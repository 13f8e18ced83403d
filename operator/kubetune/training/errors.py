"""Errors by meaning. Each carries the termination reason and exit code the Job's podFailurePolicy acts on.

The exit codes are also published in ``kubetune.api.trainer`` (for the operator's builders); a unit test keeps the two
equal. They are repeated here so that ``kubetune dataset export`` does not pay for importing the API models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubetune.api.trainer import ResultReason

EXIT_SUCCESS = 0
EXIT_RETRIABLE = 1
EXIT_DATASET_INVALID = 3
EXIT_CONFIG_INVALID = 4
EXIT_GANG_STOPPED = 5


class TrainerError(Exception):
    """Base of the errors the trainer reports in its termination message."""

    reason: ResultReason = "TrainingError"
    exit_code: int = EXIT_RETRIABLE

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors or [])


class DatasetInvalid(TrainerError):
    """The data cannot be trained on: too many invalid rows, or none valid. Retrying cannot help."""

    reason: ResultReason = "DatasetInvalid"
    exit_code = EXIT_DATASET_INVALID


class ConfigInvalid(TrainerError):
    """The job config cannot run here (malformed, or asks for what the pod lacks, e.g. QLoRA without a GPU)."""

    reason: ResultReason = "ConfigInvalid"
    exit_code = EXIT_CONFIG_INVALID


class DatasetUnavailable(TrainerError):
    """The source could not be read (HTTP error, database down, statement timeout). Worth a retry."""

    reason: ResultReason = "DatasetUnavailable"
    exit_code = EXIT_RETRIABLE


class BaseModelUnavailable(TrainerError):
    """The base model could not be downloaded (the Hub unreachable, timed out, rate-limited or 5xx). Worth a retry."""

    reason: ResultReason = "BaseModelUnavailable"
    exit_code = EXIT_RETRIABLE


class TrainingFailed(TrainerError):
    """Training itself failed (a crash in the backend, out of memory). Worth a retry from the last checkpoint."""

    reason: ResultReason = "TrainingError"
    exit_code = EXIT_RETRIABLE


class Preempted(TrainerError):
    """SIGTERM arrived (eviction, preemption): a checkpoint was saved and training stopped; the next pod resumes."""

    reason: ResultReason = "Preempted"
    exit_code = EXIT_RETRIABLE


class GangStopped(TrainerError):
    """Another process of a distributed run received SIGTERM: every process saved the checkpoint at the same step and
    stopped. The Job ignores this exit code (the disrupted pod is the one whose condition says why)."""

    reason: ResultReason = "Preempted"
    exit_code = EXIT_GANG_STOPPED
