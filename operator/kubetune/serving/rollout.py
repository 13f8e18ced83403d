"""Load (or unload) one adapter on many vLLM pods: in parallel with bounded concurrency, idempotent, with timeouts
and retries with backoff. Each pod's outcome is reported; one bad pod never blocks the others.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from .model_lists import ModelLists
from .vllm import AdapterLoadRejected, ServedModel, ServerUnavailable, VLLMClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PodEndpoint:
    name: str
    ip: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.ip}:{self.port}"


@dataclass(frozen=True)
class PodOutcome:
    pod: PodEndpoint
    loaded: bool
    loaded_at: datetime | None = None
    message: str | None = None
    attempted: bool = False  # whether this call sent a load (False: it was already there)
    seconds: float | None = None  # how long the load took, when one was sent


@dataclass(frozen=True)
class RolloutPolicy:
    concurrency: int = 8
    retries: int = 3
    backoff: float = 0.2  # doubles after each failed attempt


def _already_loaded(models: list[ServedModel], name: str, path: str) -> bool | str:
    """True when ``name`` is served from ``path``; a message when the name is taken by another path."""
    for model in models:
        if model.id == name:
            if model.root in (None, path):
                return True
            # Never replace in place: vLLM caches adapters by name, and a same-name reload can serve stale weights.
            return (f"served name {name} is already loaded from {model.root}; a new adapter needs a new servedName")
    return False


def _reader(client: VLLMClient, lists: ModelLists | None) -> ModelLists:
    return lists if lists is not None else ModelLists(client, ttl=0.0)


async def _load_one(client: VLLMClient, pod: PodEndpoint, name: str, path: str, api_key: str | None,
                    policy: RolloutPolicy, lists: ModelLists) -> PodOutcome:
    delay = policy.backoff
    last = ""
    loop = asyncio.get_running_loop()
    for attempt in range(1, policy.retries + 1):
        try:
            if attempt > 1:
                lists.invalidate(pod.base_url)
            state = _already_loaded(await lists.get(pod.base_url, api_key), name, path)
            if state is True:
                return PodOutcome(pod, True, datetime.now(UTC), attempted=attempt > 1)
            if isinstance(state, str):
                return PodOutcome(pod, False, message=state)
            started = loop.time()
            try:
                await client.load_adapter(pod.base_url, name, path, api_key)
            except AdapterLoadRejected as e:
                lists.invalidate(pod.base_url)
                # "already loaded" races with a concurrent loader: /v1/models decides on the next pass.
                if "already been loaded" not in e.message:
                    return PodOutcome(pod, False, message=f"vLLM refused the adapter: {e.message}", attempted=True,
                                      seconds=loop.time() - started)
            except BaseException:
                lists.invalidate(pod.base_url)
                raise
            else:
                lists.loaded(pod.base_url, ServedModel(id=name, root=path, parent=None))
            return PodOutcome(pod, True, datetime.now(UTC), attempted=True, seconds=loop.time() - started)
        except ServerUnavailable as e:
            last = str(e)
        except AdapterLoadRejected as e:
            last = e.message
        if attempt < policy.retries:
            await asyncio.sleep(delay)
            delay *= 2
    return PodOutcome(pod, False, message=f"vLLM unreachable after {policy.retries} attempts: {last}",
                      attempted=True)


async def load_everywhere(client: VLLMClient, pods: list[PodEndpoint], name: str, path: str,
                          api_key: str | None = None, policy: RolloutPolicy | None = None,
                          lists: ModelLists | None = None) -> list[PodOutcome]:
    """Make ``name`` (from ``path``) servable on every pod; return each pod's outcome. ``lists`` shares the pods'
    /v1/models reads with other rollouts running at the same time."""
    policy = policy or RolloutPolicy()
    semaphore = asyncio.Semaphore(policy.concurrency)
    reader = _reader(client, lists)

    async def guarded(pod: PodEndpoint) -> PodOutcome:
        async with semaphore:
            return await _load_one(client, pod, name, path, api_key, policy, reader)

    return list(await asyncio.gather(*(guarded(p) for p in pods)))


@dataclass(frozen=True)
class UnloadOutcome:
    """One pod after an unload: ``attempted`` when an unload call was made (the adapter was there), ``error`` when it
    is still not confirmed gone."""

    pod: PodEndpoint
    attempted: bool
    error: str | None = None
    seconds: float | None = None


async def _unload_one(client: VLLMClient, pod: PodEndpoint, name: str, api_key: str | None,
                      policy: RolloutPolicy, lists: ModelLists) -> UnloadOutcome:
    delay = policy.backoff
    last = ""
    attempted = False
    loop = asyncio.get_running_loop()
    for attempt in range(1, policy.retries + 1):
        try:
            if attempt > 1:
                lists.invalidate(pod.base_url)
            if not any(m.id == name for m in await lists.get(pod.base_url, api_key)):
                return UnloadOutcome(pod, attempted)
            started = loop.time()
            attempted = True
            try:
                await client.unload_adapter(pod.base_url, name, api_key)
            except BaseException:
                lists.invalidate(pod.base_url)
                raise
            lists.unloaded(pod.base_url, name)
            return UnloadOutcome(pod, True, seconds=loop.time() - started)
        except (ServerUnavailable, AdapterLoadRejected) as e:
            last = str(e)
        if attempt < policy.retries:
            await asyncio.sleep(delay)
            delay *= 2
    return UnloadOutcome(pod, attempted, error=last)


async def unload_everywhere(client: VLLMClient, pods: list[PodEndpoint], name: str, api_key: str | None = None,
                            policy: RolloutPolicy | None = None, deadline: float = 30.0,
                            lists: ModelLists | None = None) -> list[UnloadOutcome]:
    """Unload ``name`` from every pod; return each pod's outcome. Bounded by ``deadline``: a pod that does not answer
    in time (it may be gone) counts as unloaded, since vLLM keeps adapters only in memory."""
    policy = policy or RolloutPolicy()
    semaphore = asyncio.Semaphore(policy.concurrency)
    reader = _reader(client, lists)

    async def guarded(pod: PodEndpoint) -> UnloadOutcome:
        async with semaphore:
            return await _unload_one(client, pod, name, api_key, policy, reader)

    tasks = {asyncio.ensure_future(guarded(p)): p for p in pods}
    done, pending = await asyncio.wait(tasks, timeout=deadline) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    if pending:
        log.warning("unload of %s: %d pod(s) did not answer within %.0fs; treated as unloaded", name, len(pending),
                    deadline)
    return [task.result() for task in done] + [UnloadOutcome(tasks[task], True) for task in pending]
