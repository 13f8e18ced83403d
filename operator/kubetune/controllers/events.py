"""Kubernetes Events on kubetune's objects, posted through the operator's own client.

kopf's poster only runs for calls made inside its handlers; reconciles run from the work queue, so they post here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..kube import ApiError, KubeClient
from ..kube.client import EVENTS

log = logging.getLogger(__name__)
COMPONENT = "kubetune-operator"


def build_event(obj: Mapping[str, Any], kind: str, reason: str, message: str, now: datetime) -> dict[str, Any]:
    meta = obj["metadata"]
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta["name"],
                           "namespace": meta["namespace"], "uid": meta.get("uid"),
                           "resourceVersion": meta.get("resourceVersion")},
        "type": kind, "reason": reason, "message": message[:1024],
        "source": {"component": COMPONENT}, "reportingComponent": COMPONENT, "reportingInstance": COMPONENT,
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }


async def post_event(client: KubeClient, obj: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
    """Best effort: a lost Event must never fail a reconcile."""
    try:
        await client.create(EVENTS, build_event(obj, kind, reason, message, datetime.now(UTC)),
                            obj["metadata"]["namespace"])
    except (ApiError, OSError) as e:
        log.info("event %s on %s not posted: %s", reason, obj["metadata"].get("name"), e)
