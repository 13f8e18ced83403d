"""One ``/v1/models`` read per vLLM pod, shared by every adapter served there.

When a pod turns Ready, each FineTunedModel that targets its Deployment reconciles; without sharing, N adapters make
N reads of the same list. Concurrent reads of one pod join a single request (single flight), and its answer serves
for ``ttl`` seconds or until this process loads or unloads something there (a failed call forgets it). The TTL spans
the reconciles one pod event starts on a busy operator; a pod whose container restarts takes far longer than that to
turn Ready again, and a replaced pod has a new address.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from .vllm import ServedModel, VLLMClient

Key = tuple[str, str]  # (base URL, digest of the API key)


def _key(base_url: str, api_key: str | None) -> Key:
    return base_url, hashlib.sha256((api_key or "").encode()).hexdigest()[:16]


class ModelLists:
    def __init__(self, client: VLLMClient, ttl: float = 5.0, clock: Callable[[], float] | None = None,
                 on_read: Callable[[], None] | None = None) -> None:
        self.client = client
        self.ttl = ttl
        self._clock = clock
        self._on_read = on_read
        self._fresh: dict[Key, tuple[float, list[ServedModel]]] = {}
        self._inflight: dict[Key, asyncio.Future[list[ServedModel]]] = {}
        self.reads = 0  # requests actually sent (the metric the sharing is for)

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def get(self, base_url: str, api_key: str | None = None) -> list[ServedModel]:
        key = _key(base_url, api_key)
        cached = self._fresh.get(key)
        if cached is not None and self._now() - cached[0] < self.ttl:
            return cached[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[list[ServedModel]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            self.reads += 1
            if self._on_read is not None:
                self._on_read()
            models = await self.client.models(base_url, api_key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as e:
            future.set_exception(e)
            future.exception()  # marked retrieved: the waiters, if any, get it
            raise
        finally:
            self._inflight.pop(key, None)
        self._fresh[key] = (self._now(), models)
        future.set_result(models)
        return models

    def invalidate(self, base_url: str) -> None:
        """Forget what is known of a pod (its state is unknown: a call failed, or a retry follows)."""
        for key in [k for k in self._fresh if k[0] == base_url]:
            del self._fresh[key]

    def loaded(self, base_url: str, model: ServedModel) -> None:
        """This process just loaded ``model`` there: the list it knows gains it, rather than being read again by
        the next adapter served on the pod."""
        for key, (at, models) in list(self._fresh.items()):
            if key[0] == base_url:
                self._fresh[key] = (at, [*(m for m in models if m.id != model.id), model])

    def unloaded(self, base_url: str, name: str) -> None:
        for key, (at, models) in list(self._fresh.items()):
            if key[0] == base_url:
                self._fresh[key] = (at, [m for m in models if m.id != name])

    def prune(self, live: set[str]) -> None:
        """Drop pods that are gone (their base URLs are not in ``live``)."""
        for key in [k for k in self._fresh if k[0] not in live]:
            del self._fresh[key]
