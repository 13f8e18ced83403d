"""Errors by meaning. Each carries the termination reason and the exit code the Job's podFailurePolicy acts on."""

from __future__ import annotations

from kubetune.api.evaluator import (
    EXIT_CONFIG_INVALID,
    EXIT_ENDPOINT_ERRORS,
    EXIT_PROMPTS_INVALID,
    EXIT_RETRIABLE,
    ResultReason,
)


class EvaluatorError(Exception):
    """Base of the errors the evaluator reports in its termination message."""

    reason: ResultReason = "EvaluationError"
    exit_code: int = EXIT_RETRIABLE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PromptsInvalid(EvaluatorError):
    """The prompts cannot be used: unreadable, a bad line, none left, or not the file the trainer recorded."""

    reason: ResultReason = "PromptsInvalid"
    exit_code = EXIT_PROMPTS_INVALID


class ConfigInvalid(EvaluatorError):
    """The config cannot run: malformed, an API-key variable unset, or a samples file written for other prompts."""

    reason: ResultReason = "ConfigInvalid"
    exit_code = EXIT_CONFIG_INVALID


class EndpointErrors(EvaluatorError):
    """More requests failed after their retries than the error threshold allows."""

    reason: ResultReason = "EndpointErrors"
    exit_code = EXIT_ENDPOINT_ERRORS


class Interrupted(EvaluatorError):
    """SIGTERM: the samples written so far are kept, and the next pod resumes from them."""

    reason: ResultReason = "Interrupted"
    exit_code = EXIT_RETRIABLE
