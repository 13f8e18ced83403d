"""The termination message: the run's result as JSON, under the 4 KB Kubernetes keeps, with secrets redacted (the
operator copies it into the TrainingJob's status and an Event)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from kubetune.api.trainer import TERMINATION_MESSAGE_MAX_BYTES, TrainerResult
from kubetune.redaction import redact

log = logging.getLogger(__name__)


def redact_result(result: TrainerResult, secrets: Iterable[str] = ()) -> TrainerResult:
    """A copy of ``result`` whose message and errors hold no connection-string password and none of ``secrets``."""
    secrets = frozenset(secrets)
    return result.model_copy(update={"message": redact(result.message, *secrets),
                                      "errors": [redact(line, *secrets) for line in result.errors]}, deep=True)


def render(result: TrainerResult, limit: int = TERMINATION_MESSAGE_MAX_BYTES, secrets: Iterable[str] = ()) -> str:
    """``result``, redacted, as compact JSON of at most ``limit`` bytes: errors are dropped from the end, then the
    message is shortened, until it fits."""
    result = redact_result(result, secrets)  # before shortening, which could cut a password out of a pattern

    def encoded() -> bytes:
        return result.model_dump_json(by_alias=True, exclude_none=True).encode()

    data = encoded()
    while len(data) > limit and result.errors:
        result.errors.pop()
        data = encoded()
    if len(data) > limit:
        excess = len(data) - limit + 3
        keep = max(0, len(result.message.encode()) - excess)
        result.message = result.message.encode()[:keep].decode(errors="ignore") + "..."
        data = encoded()
    return data.decode()


def write_termination_message(path: str, result: TrainerResult, secrets: Iterable[str] = ()) -> None:
    """Best effort: a missing /dev/termination-log (a run outside Kubernetes) must not hide the real outcome."""
    try:
        Path(path).write_text(render(result, secrets=secrets))
    except OSError as e:
        log.warning("could not write the termination message to %s: %s", path, e)
