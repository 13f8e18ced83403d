"""What every handler shares, kept in kopf's memo: the settings, the API client and per-object locks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp

from ..kube import KubeClient
from ..settings import OperatorSettings


@dataclass
class Runtime:
    settings: OperatorSettings
    client: KubeClient
    http: aiohttp.ClientSession  # for vLLM servers and training pods, not the API server
    _locks: dict[tuple[str, str, str], asyncio.Lock] = field(default_factory=dict)

    def lock(self, kind: str, namespace: str, name: str) -> asyncio.Lock:
        """One lock per object: job, pod and object events for the same TrainingJob reconcile one at a time."""
        key = (kind, namespace, name)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self._locks.pop((kind, namespace, name), None)
