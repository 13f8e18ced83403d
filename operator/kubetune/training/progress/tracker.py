"""The progress of the run, shared between the training thread (writer) and the HTTP server (reader): the latest
figures, and the history of every logged step."""

from __future__ import annotations

import bisect
import threading
from datetime import UTC, datetime
from typing import Any

from kubetune.api.trainer import HistoryPoint, Progress


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339_millis() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ProgressTracker:
    """Holds a ``Progress`` and the logged steps; ``update`` and ``log_step`` are O(1) (amortised), ``snapshot`` and
    ``history`` return consistent copies."""

    def __init__(self, **labels: str) -> None:
        self._lock = threading.Lock()
        self._fields: dict[str, Any] = {"phase": "Starting", "step": 0, "updated_at": now_rfc3339()}
        self._points: dict[int, dict[str, Any]] = {}
        self._steps: list[int] = []  # sorted, for ``history(since)``
        self._finished = False
        self._delivered = threading.Event()  # a /history response was sent after the last step was logged
        self.labels = labels  # constant: job, namespace, backend (read by /metrics)

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._fields.update(fields)
            self._fields["updated_at"] = now_rfc3339()

    def get(self, name: str) -> Any:
        with self._lock:
            return self._fields.get(name)

    def snapshot(self) -> Progress:
        with self._lock:
            fields = dict(self._fields)
        return Progress(**fields)

    def log_step(self, step: int, **fields: Any) -> None:
        """Record a logged step. A second log at the same step (the evaluation after a training log) fills the
        fields the first left empty, so each step stays one point."""
        known = {k: v for k, v in fields.items() if v is not None}
        with self._lock:
            point = self._points.get(step)
            if point is None:
                self._points[step] = {"step": step, **known}
                if not self._steps or step > self._steps[-1]:
                    self._steps.append(step)
                else:
                    bisect.insort(self._steps, step)
            else:
                point.update({k: v for k, v in known.items() if point.get(k) is None})

    def finish(self) -> None:
        """No step will be logged any more: the next /history response carries the whole tail."""
        with self._lock:
            self._finished = True

    def history_served(self) -> None:
        """Called by the server after each /history response."""
        with self._lock:
            finished = self._finished
        if finished:
            self._delivered.set()

    def wait_history_delivered(self, seconds: float) -> bool:
        """Wait until a reader fetched /history after ``finish`` (at most ``seconds``)."""
        return self._delivered.wait(seconds)

    def history(self, since: int = 0) -> list[HistoryPoint]:
        """The points at step ``since`` and after, oldest first."""
        with self._lock:
            start = bisect.bisect_left(self._steps, since)
            points = [dict(self._points[s]) for s in self._steps[start:]]
        return [HistoryPoint(**p) for p in points]
