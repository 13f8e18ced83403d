"""Operator start-up: kopf settings as its documentation advises, the shared runtime, and its cleanup."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import kopf

from ..builders.naming import MANAGED_BY, OPERATOR, TRAININGJOB
from ..kube import KubeClient
from ..settings import OperatorSettings
from .memory import trim_periodically
from .metrics import serve as serve_metrics
from .runtime import Runtime
from .training_reconcile import reconcile_trainingjob
from .workqueue import WorkQueue

PREFIX = "kubetune.dev"


def configure(settings: kopf.OperatorSettings) -> None:
    """Apply kubetune's kopf settings (also used by tests that embed the operator)."""
    # Watches silently stall behind load balancers without these; kopf's docs recommend setting both.
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.watching.connect_timeout = 10
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration")
    settings.posting.reporting_component = "kubetune-operator"
    # kopf would post an Event for every handler run, on pods too; kubetune posts its own on phase transitions.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 8
    # Server-side filters: only the operator's own Jobs and pods (training, adapter validation) reach it. vLLM pods
    # are watched separately, per serving target, by their Deployment's selector.
    settings.watching.label_selectors["batch", "jobs"] = f"{MANAGED_BY}={OPERATOR},{TRAININGJOB}"
    settings.watching.label_selectors["", "v1", "pods"] = f"{MANAGED_BY}={OPERATOR}"


@kopf.on.startup()
async def operator_startup(settings: kopf.OperatorSettings, memo: Any, logger: Any, **_: Any) -> None:
    configure(settings)
    operator_settings = getattr(memo, "operator_settings", None) or OperatorSettings.from_env()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
    memo.runtime = Runtime(settings=operator_settings, client=KubeClient.discover(), http=http)
    serve_metrics(operator_settings.metrics_port)
    memo.runtime.ensure_task(("operator", "malloc-trim"), trim_periodically)
    runtime = memo.runtime

    async def reconcile(key: tuple[str, str]) -> None:
        await reconcile_trainingjob(runtime, *key)

    runtime.trainingjobs = WorkQueue(reconcile, operator_settings.max_concurrent_reconciles or 32)
    logger.info("kubetune operator started (trainer image %s)", operator_settings.trainer_image)


@kopf.on.cleanup()
async def operator_cleanup(memo: Any, **_: Any) -> None:
    runtime = getattr(memo, "runtime", None)
    if runtime is not None:
        await runtime.close()
        await runtime.client.close()
        await runtime.http.close()


@kopf.on.probe(id="api")
async def operator_probe(memo: Any, **_: Any) -> bool:
    return getattr(memo, "runtime", None) is not None


@kopf.on.login()
async def operator_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # kopf's default tries the kubernetes client first, which reads $KUBECONFIG at import time; use kopf's own
    # readers, in the same order as kubetune.kube's client: in-cluster, then $KUBECONFIG.
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
