"""The dashboard's link to the Kubernetes API, when it has one: a run's Events (read), and the client the actions
use. Optional: without a kubeconfig or in-cluster account the pages say that Events are unavailable, and why.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from ..kube import ApiError, Forbidden, KubeClient
from ..kube.connection import Connection
from ..kube.resources import EVENTS
from .queries.rows import utc

log = logging.getLogger(__name__)
EVENTS_TIMEOUT = 5.0


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str
    count: int
    last_seen: datetime | None
    source: str


@dataclass(frozen=True)
class Events:
    events: list[Event]
    unavailable: str | None = None
    """Why the Events could not be read, when they could not."""


def connect(kubeconfig: str | None, context: str | None) -> tuple[Connection | None, str | None]:
    """A connection from --kubeconfig/--context, $KUBECONFIG, ~/.kube/config or the pod's account; else None and
    why not."""
    import os
    from pathlib import Path

    try:
        if context:
            path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
            return Connection.from_kubeconfig(path, context), None
        return Connection.discover(kubeconfig), None
    except (OSError, ValueError, KeyError, StopIteration, TypeError, AttributeError) as e:
        return None, f"no Kubernetes API configured ({type(e).__name__}: {e})"


class Cluster:
    """Created at the application's start-up (inside its event loop), closed at its clean-up."""

    def __init__(self, connection: Connection | None, why_not: str | None = None) -> None:
        self.connection = connection
        self.why_not = why_not
        self.client: KubeClient | None = None

    async def start(self) -> None:
        if self.connection is not None:
            self.client = KubeClient(self.connection, timeout=EVENTS_TIMEOUT * 2)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def events_for(self, namespace: str, uid: str) -> Events:
        if self.client is None:
            return Events([], self.why_not or "no Kubernetes API configured")
        try:
            items = await asyncio.wait_for(
                self.client.list(EVENTS, namespace, field_selector=f"involvedObject.uid={uid}"), EVENTS_TIMEOUT)
        except Forbidden as e:
            return Events([], f"the dashboard may not list Events in {namespace}: {e.message}")
        except ApiError as e:
            return Events([], f"the API server answered {e.status}: {e.message}")
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            return Events([], f"the Kubernetes API is not reachable: {type(e).__name__}: {e}".rstrip(": "))
        events = [_event(item) for item in items]
        return Events(sorted(events, key=lambda e: e.last_seen.timestamp() if e.last_seen else 0.0, reverse=True))


def _event(item: dict[str, Any]) -> Event:
    from ..store.snapshots import parse_time

    last = (item.get("lastTimestamp") or item.get("eventTime") or (item.get("series") or {}).get("lastObservedTime")
            or item.get("firstTimestamp") or item.get("metadata", {}).get("creationTimestamp"))
    source = item.get("reportingComponent") or (item.get("source") or {}).get("component") or ""
    return Event(type=str(item.get("type") or ""), reason=str(item.get("reason") or ""),
                 message=str(item.get("message") or ""), count=int(item.get("count") or 1),
                 last_seen=utc(parse_time(last)), source=str(source))
