"""kopf event handlers for TrainingJob: each one only queues the job's key for the one level-triggered reconcile.

TrainingJobs are followed through watch events, not kopf's create/update handlers: kopf then writes nothing onto
them (no last-handled-configuration annotation, which GitOps tools would show as drift and which doubles the object in
etcd), and a status write of the operator's own is recognised and not reconciled again.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..builders.naming import MANAGED_BY, OPERATOR, TRAININGJOB
from .comparison_reconcile import wake_comparisons
from .runtime import Runtime
from .scope import in_scope
from .training_reconcile import KIND, enqueue_trainingjob

TJ = (GROUP, VERSION, "trainingjobs")
CHILD_LABELS: dict[str, Any] = {MANAGED_BY: OPERATOR, TRAININGJOB: kopf.PRESENT}
# The Job controller, the scheduler and the kubelet write a new Job and its pod several times within a moment; their
# events within this window share one reconcile (each pass reads the Job and lists its pods).
CHILD_EVENT_WINDOW = 0.2


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


@kopf.on.event(*TJ, when=in_scope)
async def trainingjob_event(type: str | None, name: str, namespace: str | None, body: Any, memo: Any,
                            **_: Any) -> None:
    runtime = _runtime(memo)
    runtime.observed(type, body)
    if type == "DELETED":
        runtime.forget(KIND, namespace or "", name)  # children go with their owner reference
        return
    wake_comparisons(runtime, KIND, namespace or "", name)
    if runtime.is_own_write(KIND, namespace or "", name, body):
        return
    enqueue_trainingjob(runtime, namespace or "", name, body=body)


@kopf.on.event("batch", "v1", "jobs", labels=CHILD_LABELS, when=in_scope)
async def trainingjob_job_event(meta: Any, namespace: str | None, memo: Any, **_: Any) -> None:
    _runtime(memo).enqueue_soon(KIND, namespace or "", meta["labels"][TRAININGJOB], CHILD_EVENT_WINDOW)


@kopf.on.event("", "v1", "pods", labels=CHILD_LABELS, when=in_scope)
async def trainingjob_pod_event(meta: Any, namespace: str | None, memo: Any, **_: Any) -> None:
    _runtime(memo).enqueue_soon(KIND, namespace or "", meta["labels"][TRAININGJOB], CHILD_EVENT_WINDOW)
