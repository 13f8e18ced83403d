"""The progress of the run, shared between the training thread (writer) and the HTTP server (reader)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from kubetune.api.trainer import Progress


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ProgressTracker:
    """Holds a ``Progress``; ``update`` is O(1), ``snapshot`` returns a consistent copy."""

    def __init__(self, **labels: str) -> None:
        self._lock = threading.Lock()
        self._fields: dict[str, Any] = {"phase": "Starting", "step": 0, "updated_at": now_rfc3339()}
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
