"""The termination message: the run's result as JSON, under the 4 KB Kubernetes keeps."""

from __future__ import annotations

import logging
from pathlib import Path

from kubetune.api.trainer import TERMINATION_MESSAGE_MAX_BYTES, TrainerResult

log = logging.getLogger(__name__)


def render(result: TrainerResult, limit: int = TERMINATION_MESSAGE_MAX_BYTES) -> str:
    """``result`` as compact JSON of at most ``limit`` bytes: errors are dropped from the end, then the message is
    shortened, until it fits."""
    result = result.model_copy(deep=True)

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


def write_termination_message(path: str, result: TrainerResult) -> None:
    """Best effort: a missing /dev/termination-log (a run outside Kubernetes) must not hide the real outcome."""
    try:
        Path(path).write_text(render(result))
    except OSError as e:
        log.warning("could not write the termination message to %s: %s", path, e)
