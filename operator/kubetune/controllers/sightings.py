"""Objects a reconcile found moments ago: the references a burst of TrainingJobs names (the same two claims, the
same Secret) are read once, not once per job.

Only sightings are remembered, for a few seconds, and only the fields the checks read (never a Secret's data);
an object found missing is read again on every pass, so a reference created after its job is noticed at once. Reads
of one object that are in flight together share one request, found or not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..kube import KubeClient, Resource

Json = dict[str, Any]
Key = tuple[str, str, str]  # (resource path, namespace, name)
SIGHTING_TTL = 5.0
KEPT_SPEC = ("accessModes",)  # a claim's modes decide whether a multi-node job can mount it


def essentials(obj: Json) -> Json:
    """What the reference checks read of an object: its name, and a claim's access modes."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return {"metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
            "spec": {k: spec[k] for k in KEPT_SPEC if isinstance(spec, dict) and k in spec},
            "status": {k: status[k] for k in KEPT_SPEC if isinstance(status, dict) and k in status}}


class Sightings:
    def __init__(self, ttl: float = SIGHTING_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._seen: dict[Key, tuple[float, Json]] = {}
        self._reading: dict[Key, asyncio.Future[Json | None]] = {}

    async def get_or_none(self, client: KubeClient, resource: Resource, name: str, namespace: str) -> Json | None:
        """The object's essentials when it exists (possibly as seen up to ``ttl`` seconds ago), else None."""
        key = (resource.path(namespace), namespace, name)
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.ttl:
            return seen[1]
        reading = self._reading.get(key)
        if reading is not None:
            return await asyncio.shield(reading)
        return await self._read(key, lambda: client.get_or_none(resource, name, namespace))

    async def _read(self, key: Key, read: Callable[[], Awaitable[Json | None]]) -> Json | None:
        future: asyncio.Future[Json | None] = asyncio.get_running_loop().create_future()
        self._reading[key] = future
        try:
            found = await read()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: readers that shared it re-raise it; none is not an error
            raise
        finally:
            self._reading.pop(key, None)
        result = essentials(found) if found is not None else None
        future.set_result(result)
        if result is None:
            self._seen.pop(key, None)
        else:
            self._prune()
            self._seen[key] = (self._clock(), result)
        return result

    def _prune(self) -> None:
        now = self._clock()
        for key in [k for k, (at, _) in self._seen.items() if now - at >= self.ttl]:
            del self._seen[key]
