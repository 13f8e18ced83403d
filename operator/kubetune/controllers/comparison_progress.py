"""Pull a running evaluator's progress into the ModelComparison's status, and its samples into the mirror.

Evaluator pods hold no Kubernetes credentials (like training pods): they serve ``/progress`` and ``/samples`` on their
pod IP, and the operator reads them while the comparison runs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import ValidationError

from ..api.evaluator import EvaluatorProgress, SamplesPage
from ..builders.evaluation import MODELCOMPARISON_UID
from ..kube import Invalid
from ..kube.client import PODS
from .resources import MODELCOMPARISONS
from .runtime import Runtime

log = logging.getLogger(__name__)
Json = dict[str, Any]
KIND = "ModelComparison"


async def _get(session: aiohttp.ClientSession, url: str) -> bytes | None:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return await resp.read() if resp.status == 200 else None
    except (TimeoutError, aiohttp.ClientError):
        return None


def progress_patch(progress: EvaluatorProgress, now: datetime) -> Json:
    values = {"done": progress.done, "total": progress.total, "inFlight": progress.in_flight,
              "errors": progress.errors, "percent": progress.percent,
              "updatedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"progress": {k: v for k, v in values.items() if v is not None}}


async def _running_pod_ip(runtime: Runtime, namespace: str, uid: str) -> str | None:
    pods = await runtime.client.list(PODS, namespace, label_selector=f"{MODELCOMPARISON_UID}={uid}")
    running = sorted((p for p in pods if p.get("status", {}).get("phase") == "Running" and p["status"].get("podIP")
                      and not p["metadata"].get("deletionTimestamp")),
                     key=lambda p: p["metadata"].get("creationTimestamp", ""))
    return running[-1]["status"]["podIP"] if running else None


async def follow_evaluation(runtime: Runtime, namespace: str, name: str, uid: str) -> None:
    """Poll until cancelled (the reconcile starts it while the comparison runs and cancels it when it ends)."""
    port, interval = runtime.settings.progress_port, runtime.settings.progress_interval
    next_sample = 0
    last: Json | None = None
    ip: str | None = None
    while True:
        if ip is None:
            ip = await _running_pod_ip(runtime, namespace, uid)
        if ip is not None:
            raw = await _get(runtime.http, f"http://{ip}:{port}/progress")
            if raw is None:
                ip = None  # a retry's pod has another address
            else:
                try:
                    patch = progress_patch(EvaluatorProgress.model_validate_json(raw), datetime.now(UTC))
                except ValidationError:
                    patch = None
                comparable = patch and {k: v for k, v in patch["progress"].items() if k != "updatedAt"}
                if patch is not None and comparable != last:
                    await _patch_while_running(runtime, namespace, name, patch)
                    last = comparable
                next_sample = await _mirror_samples(runtime, uid, ip, port, next_sample)
        await asyncio.sleep(interval)


async def _mirror_samples(runtime: Runtime, uid: str, ip: str, port: int, since: int) -> int:
    if runtime.mirror is None:
        return since
    raw = await _get(runtime.http, f"http://{ip}:{port}/samples?since={since}")
    if raw is None:
        return since
    try:
        page = SamplesPage.model_validate_json(raw)
    except ValidationError:
        return since
    if page.samples:
        runtime.mirror.record_samples(uid, page.samples)
        return int(page.samples[-1]["index"]) + 1
    return since


async def _patch_while_running(runtime: Runtime, namespace: str, name: str, patch: Json) -> None:
    # A report that lands after the comparison finished must not overwrite what the result says.
    ops: list[Json] = [{"op": "test", "path": "/status/phase", "value": "Running"}]
    ops += [{"op": "add", "path": f"/status/{key}", "value": value} for key, value in patch.items()]
    try:
        written = await runtime.client.patch(MODELCOMPARISONS, name, ops, namespace, subresource="status",
                                             patch_type="json")
        runtime.wrote(KIND, namespace, name, written)
    except Invalid:
        log.debug("%s/%s left Running; progress report dropped", namespace, name)
