"""kopf handlers for FineTunedModel: validate, hot-load, follow pods, unload on removal. Thin: each delegates."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION, FineTunedModel, ServingTarget, parse_resource
from ..builders.adapter_validation import COMPONENT
from ..builders.naming import FINETUNEDMODEL, MANAGED_BY, OPERATOR
from .model_pods import follow_targets
from .model_reconcile import reconcile_finetunedmodel, unload_targets
from .runtime import Runtime

FTM = (GROUP, VERSION, "finetunedmodels")
VALIDATOR_LABELS: dict[str, Any] = {
    MANAGED_BY: OPERATOR, "app.kubernetes.io/component": COMPONENT, FINETUNEDMODEL: kopf.PRESENT}


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


@kopf.on.resume(*FTM)
@kopf.on.create(*FTM)
async def finetunedmodel_create(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    await reconcile_finetunedmodel(_runtime(memo), namespace or "", name)


@kopf.on.update(*FTM, field="spec.serving")
async def finetunedmodel_targets_changed(name: str, namespace: str | None, body: Any, old: Any, new: Any, memo: Any,
                                        logger: Any, **_: Any) -> None:
    runtime = _runtime(memo)
    kept = {t["deployment"] for t in (new or {}).get("targets") or []}
    removed = [ServingTarget.model_validate(t) for t in (old or {}).get("targets") or [] if t["deployment"] not in kept]
    if removed:
        ftm = parse_resource(body)
        assert isinstance(ftm, FineTunedModel)
        failures = await unload_targets(runtime, ftm, removed)
        logger.info("unloaded from removed target(s) %s%s", ", ".join(t.deployment for t in removed),
                    f"; not confirmed on {', '.join(failures)}" if failures else "")
    await reconcile_finetunedmodel(runtime, namespace or "", name)


@kopf.on.event("", "v1", "pods", labels=VALIDATOR_LABELS)
async def finetunedmodel_validation_pod_event(meta: Any, namespace: str | None, memo: Any, **_: Any) -> None:
    await reconcile_finetunedmodel(_runtime(memo), namespace or "", meta["labels"][FINETUNEDMODEL])


@kopf.daemon(*FTM, cancellation_timeout=2.0)
async def finetunedmodel_pods(name: str, namespace: str | None, body: Any, stopped: Any, memo: Any, **_: Any) -> None:
    runtime = _runtime(memo)

    async def reconcile() -> None:
        await reconcile_finetunedmodel(runtime, namespace or "", name)

    await follow_targets(runtime, namespace or "", body, stopped, reconcile)


@kopf.on.delete(*FTM)
async def finetunedmodel_delete(name: str, namespace: str | None, body: Any, memo: Any, logger: Any, **_: Any) -> None:
    """Unload from every pod before the object goes; bounded, so a gone pod never blocks deletion."""
    runtime = _runtime(memo)
    try:
        ftm = parse_resource(body)
    except ValueError:
        return  # never served, nothing to unload
    assert isinstance(ftm, FineTunedModel)
    failures = await unload_targets(runtime, ftm, ftm.spec.serving.targets if ftm.spec.serving else [])
    if failures:
        logger.warning("adapter %s not confirmed unloaded on %s", ftm.spec.served_name, ", ".join(sorted(failures)))
    runtime.forget("FineTunedModel", namespace or "", name)
