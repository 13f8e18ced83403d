"""ttlSecondsAfterFinished: when a finished TrainingJob is due for deletion (with, through owner references, its Job
and ConfigMap; its FineTunedModel has no owner reference and stays). The reconcile schedules the deletion."""

from __future__ import annotations

from datetime import UTC, datetime


def seconds_left(completion_time: str, ttl: int, now: datetime) -> float:
    finished = datetime.strptime(completion_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return max(0.0, (finished - now).total_seconds() + ttl)
