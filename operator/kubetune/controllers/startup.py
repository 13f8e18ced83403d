"""Operator start-up: kopf settings as its documentation advises, the shared runtime with one work queue per kind, and
its cleanup."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import kopf

from ..builders.naming import MANAGED_BY, OPERATOR
from ..kube import KubeClient, Resource
from ..kube.connection import SERVICE_ACCOUNT_DIR, Connection
from ..settings import OperatorSettings
from ..store import Mirror, cluster_lister
from . import comparison_reconcile, model_reconcile, training_reconcile
from .memory import freeze_startup_objects, trim_periodically
from .resources import FINETUNEDMODELS, MODELCOMPARISONS, TRAININGJOBS
from .runtime import Key, Runtime
from .status import report_error
from .workqueue import Backoff, Requeue, WorkQueue

log = logging.getLogger(__name__)

PREFIX = "kubetune.dev"
# Per-key retry delays: 0.1 s doubling to 2 min (a missing reference, a Job that cannot create its pod, an error).
BACKOFF = Backoff(base=0.1, cap=120.0)
Reconcile = Callable[[Runtime, str, str], Awaitable[Requeue | None]]
CONTROLLERS: tuple[tuple[str, Resource, Reconcile], ...] = (
    (training_reconcile.KIND, TRAININGJOBS, training_reconcile.reconcile_trainingjob),
    (model_reconcile.KIND, FINETUNEDMODELS, model_reconcile.reconcile_finetunedmodel),
    (comparison_reconcile.KIND, MODELCOMPARISONS, comparison_reconcile.reconcile_modelcomparison),
)


class NoDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's diff base, not kept. Before any handler runs, kopf deep-copies every event's body into an "essence"
    (twice) to diff it against the last handled one; only create/update/delete handlers, daemons and timers read that
    diff, and kubetune has none of them (watch-event handlers and its own work queues only, which
    tests/unit/controllers/test_kopf_settings.py checks). The copies were the operator's largest CPU cost in a
    burst of TrainingJobs."""

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        return {}

    def fetch(self, *, body: Any) -> Any:
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        return None


def configure(settings: kopf.OperatorSettings) -> None:
    """Apply kubetune's kopf settings (also used by tests that embed the operator)."""
    # Watches silently stall behind load balancers without these; kopf's docs recommend setting both.
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.watching.connect_timeout = 10
    settings.posting.reporting_component = "kubetune-operator"
    # kopf would post an Event for every handler run, on pods too; kubetune posts its own on phase transitions.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 8
    settings.persistence.diffbase_storage = NoDiffBase()
    # Server-side filters: only the operator's own Jobs and pods (training, adapter validation) reach it. vLLM pods
    # and Deployments are watched separately, per serving target (model_watches.TargetWatches).
    settings.watching.label_selectors["batch", "jobs"] = f"{MANAGED_BY}={OPERATOR}"
    settings.watching.label_selectors["", "v1", "pods"] = f"{MANAGED_BY}={OPERATOR}"


def start_queues(runtime: Runtime) -> None:
    """One work queue per kind, each running that kind's reconcile."""
    workers = runtime.settings.max_concurrent_reconciles or 32
    for kind, resource, reconcile in CONTROLLERS:

        async def handle(key: Key, reconcile: Reconcile = reconcile) -> Requeue | None:
            return await reconcile(runtime, *key)

        async def on_error(key: Key, error: Exception, failures: int, kind: str = kind,
                           resource: Resource = resource) -> None:
            await report_error(runtime, kind, resource, key, error, failures)

        # A pass on an existing TrainingJob waits (a moment at most) while a burst's new ones get their Jobs created.
        gate = runtime.creations if kind == training_reconcile.KIND else None
        runtime.queues[kind] = WorkQueue(handle, workers, BACKOFF, on_error, name=kind, gate=gate)


@kopf.on.startup()
async def operator_startup(settings: kopf.OperatorSettings, memo: Any, logger: Any, **_: Any) -> None:
    configure(settings)
    operator_settings = getattr(memo, "operator_settings", None) or OperatorSettings.from_env()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
    client = KubeClient.discover()
    runtime = memo.runtime = Runtime(settings=operator_settings, client=client, http=http)
    namespaces = tuple(getattr(memo, "namespaces", ()) or ())
    mirror = runtime.mirror = Mirror.from_settings(operator_settings, lister=cluster_lister(client, namespaces),
                                                   namespaces=namespaces)
    await mirror.start()  # returns at once: connecting and migrating happen in its writer, with retries
    runtime.ensure_task(("operator", "malloc-trim"), trim_periodically)
    start_queues(runtime)
    freeze_startup_objects()
    runtime.ensure_task(("operator", "freeze-after-mirror"), lambda: _freeze_when_ready(mirror))
    logger.info("kubetune operator started (trainer image %s; mirror %s)", operator_settings.trainer_image,
                mirror.where)


async def _freeze_when_ready(mirror: Mirror) -> None:
    """The mirror's schema check imports SQLAlchemy's dialect and Alembic: freeze again once they are loaded."""
    await mirror.wait_ready()
    freeze_startup_objects()


@kopf.on.cleanup()
async def operator_cleanup(memo: Any, **_: Any) -> None:
    runtime = getattr(memo, "runtime", None)
    if runtime is not None:
        watches = runtime.extras.get("target-watches")
        if watches is not None:
            await watches.close()
        await runtime.close()
        if runtime.mirror is not None:
            await runtime.mirror.stop()
        await runtime.client.close()
        await runtime.http.close()


@kopf.on.login()
def operator_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """The same credentials as kubetune's own client (``Connection.discover``): an explicit $KUBECONFIG, else
    client-go's in-cluster configuration, the API server at $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the
    pod's service-account token. (kopf's own service-account reader assumes https://kubernetes.default.svc, which
    needs cluster DNS: a hostNetwork pod with dnsPolicy Default has none, nor does the test ground's process node.)"""
    if os.environ.get("KUBECONFIG") or not os.environ.get("KUBERNETES_SERVICE_HOST") \
            or not (SERVICE_ACCOUNT_DIR / "token").exists():
        return kopf.login_with_kubeconfig(**kwargs)
    connection = Connection.in_cluster()
    log.info("logging in in-cluster, as the pod's service account, to %s", connection.server)
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    return kopf.ConnectionInfo(
        server=connection.server,
        ca_path=connection.ca_file if connection.ca_file and os.path.exists(connection.ca_file) else None,
        token=connection.bearer(),  # read again on each login: kopf logs in anew on a 401 (projected tokens rotate)
        default_namespace=namespace_file.read_text().strip() if namespace_file.exists() else None,
    )
