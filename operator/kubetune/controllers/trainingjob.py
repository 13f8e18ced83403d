"""kopf handlers for TrainingJob. Each one guards, delegates to one plain function, and lets kopf retry."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION, parse_resource
from ..builders.naming import MANAGED_BY, OPERATOR, TRAININGJOB
from .progress import follow_progress
from .resources import TRAININGJOBS
from .runtime import Runtime
from .training_children import sync_suspend
from .training_reconcile import reconcile_trainingjob
from .ttl import expire_after_ttl

TJ = (GROUP, VERSION, "trainingjobs")
CHILD_LABELS: dict[str, Any] = {MANAGED_BY: OPERATOR, TRAININGJOB: kopf.PRESENT}


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


@kopf.on.resume(*TJ)
@kopf.on.create(*TJ)
async def trainingjob_create(name: str, namespace: str | None, body: Any, reason: str, memo: Any, **_: Any) -> None:
    # The body of a just-created object is current, so the create handler skips re-reading it (resume re-reads).
    fresh = body if reason == kopf.Reason.CREATE else None
    await reconcile_trainingjob(_runtime(memo), namespace or "", name, fresh=fresh)


@kopf.on.update(*TJ, field="spec")
async def trainingjob_update(name: str, namespace: str | None, body: Any, old: Any, new: Any, memo: Any,
                             **_: Any) -> None:
    runtime = _runtime(memo)
    if (old or {}).get("suspend") != (new or {}).get("suspend"):
        await sync_suspend(runtime.client, parse_resource(body))  # type: ignore[arg-type]
    await reconcile_trainingjob(runtime, namespace or "", name)


@kopf.on.event("batch", "v1", "jobs", labels=CHILD_LABELS)
async def trainingjob_job_event(meta: Any, namespace: str | None, memo: Any, **_: Any) -> None:
    await reconcile_trainingjob(_runtime(memo), namespace or "", meta["labels"][TRAININGJOB], coalesce=True)


@kopf.on.event("", "v1", "pods", labels=CHILD_LABELS)
async def trainingjob_pod_event(meta: Any, namespace: str | None, memo: Any, **_: Any) -> None:
    await reconcile_trainingjob(_runtime(memo), namespace or "", meta["labels"][TRAININGJOB], coalesce=True)


@kopf.daemon(*TJ, when=lambda status, **_: status.get("phase") == "Running", cancellation_timeout=5.0)
async def trainingjob_progress(name: str, namespace: str | None, uid: str, stopped: Any, memo: Any, **_: Any) -> None:
    await follow_progress(_runtime(memo), namespace or "", name, uid, stopped)


def _expires(spec: Any, status: Any, **_: Any) -> bool:
    return spec.get("ttlSecondsAfterFinished") is not None and bool(status.get("completionTime"))


@kopf.daemon(*TJ, when=_expires, cancellation_timeout=1.0)
async def trainingjob_ttl(name: str, namespace: str | None, spec: Any, status: Any, stopped: Any, memo: Any,
                          **_: Any) -> None:
    await expire_after_ttl(_runtime(memo), namespace or "", name, status["completionTime"],
                           int(spec["ttlSecondsAfterFinished"]), stopped)


@kopf.on.delete(*TJ, optional=True)
async def trainingjob_delete(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    # Children go with their owner reference; only the in-memory lock is ours to drop.
    _runtime(memo).forget("TrainingJob", namespace or "", name)


__all__ = ["TRAININGJOBS"]
