"""The termination message: the result as JSON, under the 4 KB Kubernetes keeps."""

from __future__ import annotations

import logging
from pathlib import Path

from kubetune.api.evaluator import TERMINATION_MESSAGE_MAX_BYTES, EvaluatorResult

log = logging.getLogger(__name__)

# Dropped in this order until the message fits: detail first, the verdict and headline figures last.
_TRIM = (
    ("differences", "tpot_ms"), ("differences", "output_tokens"), ("baseline", "itl_ms"), ("candidate", "itl_ms"),
    ("baseline", "tpot_ms"), ("candidate", "tpot_ms"), ("differences", "latency_ms"), ("differences", "ttft_ms"),
)


def render(result: EvaluatorResult, limit: int = TERMINATION_MESSAGE_MAX_BYTES) -> str:
    result = result.model_copy(deep=True)

    def encoded() -> bytes:
        return result.model_dump_json(by_alias=True, exclude_none=True).encode()

    data = encoded()
    for section, field in _TRIM:
        if len(data) <= limit or result.results is None:
            break
        holder = getattr(result.results, section)
        if holder is not None:
            setattr(holder, field, None)
            data = encoded()
    for name in ("first_error", "message"):
        if len(data) <= limit:
            break
        text = getattr(result, name) or ""
        keep = max(0, len(text.encode()) - (len(data) - limit) - 3)
        setattr(result, name, text.encode()[:keep].decode(errors="ignore") + "...")
        data = encoded()
    return data.decode()


def write_termination_message(path: str, result: EvaluatorResult) -> None:
    """Best effort: a missing /dev/termination-log (a run outside Kubernetes) must not hide the real outcome."""
    try:
        Path(path).write_text(render(result))
    except OSError as e:
        log.warning("could not write the termination message to %s: %s", path, e)
