"""Pull live progress from a running training pod into the TrainingJob's status.

Training pods hold no Kubernetes credentials, so the operator reads their /progress endpoint instead of the pod
writing its own status.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import ValidationError

from ..api.trainer import Progress
from ..builders.naming import TRAININGJOB_UID
from ..kube import Invalid
from ..kube.client import PODS
from ..store import HistoryUnavailable, Mirror, fetch_history
from .resources import TRAININGJOBS
from .runtime import Runtime
from .training_phase import holds_rank0

log = logging.getLogger(__name__)
Json = dict[str, Any]


async def _running_pod_ip(runtime: Runtime, namespace: str, uid: str) -> str | None:
    pods = await runtime.client.list(PODS, namespace, label_selector=f"{TRAININGJOB_UID}={uid}")
    # Rank 0 alone serves progress: in a multi-node job, the pod of index 0.
    running = [p for p in pods if p.get("status", {}).get("phase") == "Running" and p["status"].get("podIP")
               and not p["metadata"].get("deletionTimestamp") and holds_rank0(p)]
    running.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""))
    return running[-1]["status"]["podIP"] if running else None


async def read_progress(session: aiohttp.ClientSession, ip: str, port: int) -> Progress | None:
    try:
        async with session.get(f"http://{ip}:{port}/progress", timeout=aiohttp.ClientTimeout(total=3)) as resp:
            if resp.status != 200:
                return None
            return Progress.model_validate(await resp.json())
    except (TimeoutError, aiohttp.ClientError, ValidationError, ValueError):
        return None


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def human_duration(seconds: int | None) -> str | None:
    """``1h2m``, ``4m12s``, ``9s``: what the ETA printer column shows."""
    if seconds is None:
        return None
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def status_patch(progress: Progress, now: datetime) -> Json:
    """The status fields a progress report updates (losses to 4 decimals: `kubectl get` shows them as stored)."""
    values = {
        "step": progress.step, "totalSteps": progress.total_steps, "epoch": _rounded(progress.epoch, 3),
        "loss": _rounded(progress.loss, 4), "evalLoss": _rounded(progress.eval_loss, 4),
        "learningRate": progress.learning_rate, "tokensPerSecond": _rounded(progress.tokens_per_second, 1),
        "percent": _rounded(progress.percent, 1), "etaSeconds": progress.eta_seconds,
        "eta": human_duration(progress.eta_seconds), "resumedFromStep": progress.resumed_from_step,
        "updatedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    patch: Json = {"progress": {k: v for k, v in values.items() if v is not None}}
    if progress.checkpoint_step is not None:
        patch["lastCheckpoint"] = {"step": progress.checkpoint_step}
    return patch


async def _mirror_history(runtime: Runtime, mirror: Mirror, uid: str, ip: str, port: int, since: int) -> int:
    """Record the steps logged from ``since`` on; returns where the next round starts."""
    try:
        points = await fetch_history(runtime.http, ip, port, since)
    except HistoryUnavailable as e:
        log.debug("history of %s not read: %s", uid, e)
        return since
    if points:
        mirror.record_training_metrics(uid, points)
        return points[-1].step  # /history includes this step: an evaluation logged later at it is still picked up
    return since


async def _patch_while_running(runtime: Runtime, namespace: str, name: str, patch: Json) -> None:
    # The test op makes it atomic: a report that lands after the job finished must not overwrite the final numbers.
    ops: list[Json] = [{"op": "test", "path": "/status/phase", "value": "Running"}]
    ops += [{"op": "add", "path": f"/status/{key}", "value": value} for key, value in patch.items()]
    try:
        written = await runtime.client.patch(TRAININGJOBS, name, ops, namespace, subresource="status",
                                             patch_type="json")
        runtime.wrote("TrainingJob", namespace, name, written)
    except Invalid:
        log.debug("%s/%s left Running; progress report dropped", namespace, name)


async def follow_progress(runtime: Runtime, namespace: str, name: str, uid: str) -> None:
    """Poll until cancelled: the reconcile starts this when the job turns Running and cancels it when it leaves.

    Each round copies /progress into status and hands every step the trainer logged since the last round
    (/history) to the mirror, starting, after an operator restart, from the newest step the mirror has: the loss curve
    in the database has every logged step, once."""
    interval = runtime.settings.progress_interval
    port = runtime.settings.progress_port
    mirror = runtime.mirror
    since = (await mirror.last_training_step(uid) or 0) if mirror is not None else 0
    ip: str | None = None
    last: Json | None = None
    while True:
        if ip is None:
            ip = await _running_pod_ip(runtime, namespace, uid)
        if ip is not None and mirror is not None:
            since = await _mirror_history(runtime, mirror, uid, ip, port, since)
        progress = await read_progress(runtime.http, ip, port) if ip else None
        if progress is None:
            ip = None  # the pod may have been replaced; look it up again next time
        else:
            patch = status_patch(progress, datetime.now(UTC))
            comparable = {**patch, "progress": {k: v for k, v in patch["progress"].items() if k != "updatedAt"}}
            if comparable != last:
                await _patch_while_running(runtime, namespace, name, patch)
                last = comparable
        await asyncio.sleep(interval)
