"""ttlSecondsAfterFinished: delete a finished TrainingJob (and, through owner references, its Job and ConfigMap).
Its FineTunedModel has no owner reference and stays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .resources import TRAININGJOBS
from .runtime import Runtime


def seconds_left(completion_time: str, ttl: int, now: datetime) -> float:
    finished = datetime.strptime(completion_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return max(0.0, (finished - now).total_seconds() + ttl)


async def expire_after_ttl(runtime: Runtime, namespace: str, name: str, completion_time: str, ttl: int,
                           stopped: Any) -> None:
    """Sleep until the TTL passes (kopf stops the daemon if the object changes first), then delete."""
    await stopped.wait(seconds_left(completion_time, ttl, datetime.now(UTC)))
    if not stopped:
        await runtime.client.delete(TRAININGJOBS, name, namespace)
