"""Writing status the same way for every kind: only when it changed, with the resourceVersion the reconcile read as a
precondition (a write derived from a stale read fails with 409 and the next pass reads again), and with persistent
reconcile errors shown as a ``Reconciled`` condition rather than only in the operator's log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from ..api import get_condition, set_condition
from ..kube import ApiError, Conflict, Forbidden, NotFound, Resource
from .runtime import Runtime

log = logging.getLogger(__name__)
Json = dict[str, Any]
RECONCILED = "Reconciled"
PERSISTENT_AFTER = 3  # consecutive failures before an error is shown on the object (a blip is retried silently)


class StaleRead(Exception):
    """The object changed since the reconcile read it; the pass is repeated from a fresh read."""


def changed(status: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
    """Whether writing ``update`` would change ``status`` (an unchanged status is not written again: each write is
    one more event for every watcher)."""
    return any(status.get(key) != value for key, value in update.items())


async def write_status(runtime: Runtime, kind: str, resource: Resource, body: Mapping[str, Any],
                       update: Json) -> Json:
    """Merge ``update`` into the object's status, if the object is still at the resourceVersion of ``body``."""
    meta = body["metadata"]
    ns, name = meta.get("namespace") or "", meta["name"]
    patch = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": update}
    try:
        written = await runtime.client.patch(resource, name, patch, ns, subresource="status")
    except Conflict as e:
        runtime.drop_offered(kind, ns, name)
        raise StaleRead(f"{kind} {ns}/{name} changed since it was read") from e
    runtime.wrote(kind, ns, name, written)
    return written


def recovered(conditions: list[Json] | None, generation: int | None, now: datetime) -> list[Json]:
    """The conditions with a reported reconcile error cleared, once a pass has succeeded."""
    previous = get_condition(conditions, RECONCILED)
    if previous is None or previous.get("status") == "True":
        return list(conditions or [])
    return set_condition(conditions, RECONCILED, True, "Succeeded", "", generation, now)


def error_reason(error: Exception) -> str:
    """A CamelCase reason for a failed reconcile that says where to look."""
    if isinstance(error, Forbidden):
        return "Forbidden"  # the operator's RBAC lacks a verb: an installation problem
    if isinstance(error, ApiError):
        return "ApiError"
    if isinstance(error, (aiohttp.ClientError, OSError, TimeoutError)):
        return "Unreachable"
    return "InternalError"


async def report_error(runtime: Runtime, kind: str, resource: Resource, key: tuple[str, str], error: Exception,
                       failures: int) -> None:
    """Show a reconcile error that keeps happening on the object: a ``Reconciled=False`` condition with the reason and
    message, and a Warning Event when the message changes. Best effort: the error may be that nothing can be written.
    """
    if failures < PERSISTENT_AFTER or isinstance(error, StaleRead):
        return
    from ..redaction import redact

    ns, name = key
    try:
        body = await runtime.client.get(resource, name, ns)
    except (NotFound, ApiError, aiohttp.ClientError, OSError):
        return
    status = body.get("status") or {}
    reason = error_reason(error)
    message = redact(f"reconcile failed {failures} times in a row, retrying with backoff: {error}")[:1000]
    previous = get_condition(status.get("conditions"), RECONCILED)
    if previous and previous.get("status") == "False" and previous.get("reason") == reason \
            and _same_error(previous.get("message", ""), message):
        return
    conditions = set_condition(status.get("conditions"), RECONCILED, False, reason, message,
                               body["metadata"].get("generation"), datetime.now(UTC))
    try:
        await write_status(runtime, kind, resource, body, {"conditions": conditions})
    except (StaleRead, ApiError, aiohttp.ClientError, OSError) as e:
        log.info("could not show the reconcile error on %s %s/%s: %s", kind, ns, name, e)
        return
    await runtime.events.emit(body, "Warning", "ReconcileError", message)


def _same_error(old: str, new: str) -> bool:
    # The count in front changes on every attempt; what follows the colon is the error itself.
    return old.partition(": ")[2] == new.partition(": ")[2]
