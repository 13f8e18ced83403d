"""kopf event handlers for FineTunedModel: each one only queues the model's key for the one level-triggered
reconcile. kopf writes nothing onto the object (no last-handled-configuration annotation, no finalizer of its own);
the finalizer the reconcile adds is there because unloading from vLLM pods is real cleanup.

The pods and Deployments of serving targets are watched by ``model_watches.TargetWatches``, shared by all models.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..builders.adapter_validation import COMPONENT
from ..builders.naming import FINETUNEDMODEL, MANAGED_BY, OPERATOR
from .comparison_reconcile import wake_comparisons
from .model_reconcile import KIND, enqueue_finetunedmodel
from .runtime import Runtime
from .scope import in_scope

FTM = (GROUP, VERSION, "finetunedmodels")
VALIDATOR_LABELS: dict[str, Any] = {
    MANAGED_BY: OPERATOR, "app.kubernetes.io/component": COMPONENT, FINETUNEDMODEL: kopf.PRESENT}


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


@kopf.on.event(*FTM, when=in_scope)
async def finetunedmodel_event(type: str | None, name: str, namespace: str | None, body: Any, memo: Any,
                               **_: Any) -> None:
    runtime = _runtime(memo)
    runtime.observed(type, body)
    if type == "DELETED":
        runtime.forget(KIND, namespace or "", name)
        enqueue_finetunedmodel(runtime, namespace or "", name)  # finds it gone and stops its target watches
        return
    wake_comparisons(runtime, KIND, namespace or "", name)
    if runtime.is_own_write(KIND, namespace or "", name, body):
        return
    enqueue_finetunedmodel(runtime, namespace or "", name, body)


@kopf.on.event("", "v1", "pods", labels=VALIDATOR_LABELS, when=in_scope)
async def finetunedmodel_validation_pod_event(meta: Any, namespace: str | None, memo: Any, **_: Any) -> None:
    enqueue_finetunedmodel(_runtime(memo), namespace or "", meta["labels"][FINETUNEDMODEL])
