"""kopf event handlers for ModelComparison: each one only queues the comparison's key for the one level-triggered
reconcile (its own events, its evaluator Job's and pods'). A comparison waiting on a FineTunedModel or TrainingJob is
woken by that object's events (see finetunedmodel.py and trainingjob.py)."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..builders.evaluation import MODELCOMPARISON
from ..builders.naming import MANAGED_BY, OPERATOR
from .comparison_reconcile import KIND, enqueue_modelcomparison
from .runtime import Runtime
from .scope import in_scope

MC = (GROUP, VERSION, "modelcomparisons")
CHILD_LABELS: dict[str, Any] = {MANAGED_BY: OPERATOR, MODELCOMPARISON: kopf.PRESENT}


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


@kopf.on.event(*MC, when=in_scope)
async def modelcomparison_event(type: str | None, name: str, namespace: str | None, body: Any, memo: Any,
                                **_: Any) -> None:
    runtime = _runtime(memo)
    runtime.observed(type, body)
    if type == "DELETED":
        runtime.forget(KIND, namespace or "", name)  # its Job and ConfigMap go with their owner reference
        enqueue_modelcomparison(runtime, namespace or "", name)  # finds it gone and drops what waited on it
        return
    if runtime.is_own_write(KIND, namespace or "", name, body):
        return
    enqueue_modelcomparison(runtime, namespace or "", name, body)


@kopf.on.event("batch", "v1", "jobs", labels=CHILD_LABELS, when=in_scope)
async def modelcomparison_job_event(meta: Any, namespace: str | None, memo: Any, **_: Any) -> None:
    enqueue_modelcomparison(_runtime(memo), namespace or "", meta["labels"][MODELCOMPARISON])


@kopf.on.event("", "v1", "pods", labels=CHILD_LABELS, when=in_scope)
async def modelcomparison_pod_event(meta: Any, namespace: str | None, memo: Any, **_: Any) -> None:
    enqueue_modelcomparison(_runtime(memo), namespace or "", meta["labels"][MODELCOMPARISON])
