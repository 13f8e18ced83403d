"""Leader election through a coordination.k8s.io Lease, with client-go's semantics (tools/leaderelection), so that
of several operator replicas exactly one acts.

A candidate takes the Lease when it is free or when its holder has not renewed it for ``lease_duration`` seconds, as
measured on the candidate's own clock from the moment it last saw the record change (so clocks need not agree). The
leader renews every ``retry_period`` seconds; when it cannot renew for ``renew_deadline`` seconds (shorter than the
lease duration) it stops acting at once, before any other replica may take over. Writes are conditional on the
Lease's resourceVersion, so two candidates can never both win.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from ..kube import ApiError, Conflict, KubeClient, NotFound
from ..kube.client import LEASES

log = logging.getLogger(__name__)
Json = dict[str, Any]


@dataclass(frozen=True)
class LeaseConfig:
    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("leader election needs retry period < renew deadline < lease duration")


def micro_time(moment: datetime) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client: KubeClient, config: LeaseConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.config = config
        self._clock = clock
        self._observed: Json | None = None  # the lease spec as last read
        self._observed_at = 0.0  # our clock when that record last changed
        self.is_leader = False
        self.last_renewed = 0.0

    def _expired(self, spec: Json) -> bool:
        if self._observed is None or self._observed != spec:
            self._observed, self._observed_at = dict(spec), self._clock()
        duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration)
        return self._observed_at + duration <= self._clock()

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: True when this replica holds the Lease afterwards."""
        cfg = self.config
        now = micro_time(datetime.now(UTC))
        mine = {"holderIdentity": cfg.identity, "leaseDurationSeconds": int(cfg.lease_duration), "renewTime": now}
        try:
            lease = await self.client.get(LEASES, cfg.name, cfg.namespace)
        except NotFound:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                    "spec": {**mine, "acquireTime": now, "leaseTransitions": 0}}
            try:
                await self.client.create(LEASES, body, cfg.namespace)
            except Conflict:
                return False
            return self._won()
        spec = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        if holder and holder != cfg.identity and not self._expired(spec):
            self.is_leader = False
            return False
        if holder != cfg.identity:
            mine["acquireTime"] = now
            mine["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        lease["spec"] = {**spec, **mine}
        try:
            await self.client.replace(LEASES, cfg.name, lease, cfg.namespace)
        except Conflict:
            return False  # another candidate wrote first; look again next round
        return self._won()

    def _won(self) -> bool:
        if not self.is_leader:
            log.info("became the leader (lease %s/%s, identity %s)", self.config.namespace, self.config.name,
                     self.config.identity)
        self.is_leader = True
        self.last_renewed = self._clock()
        return True

    async def _attempt(self) -> bool:
        try:
            return await asyncio.wait_for(self.try_acquire_or_renew(), timeout=self.config.retry_period * 2)
        except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.warning("lease %s/%s: %s", self.config.namespace, self.config.name, e)
            return False

    async def acquire(self) -> None:
        """Wait until this replica is the leader."""
        log.info("waiting to lead (lease %s/%s, identity %s)", self.config.namespace, self.config.name,
                 self.config.identity)
        while not await self._attempt():  # noqa: ASYNC110 - polling the Lease is the protocol
            await asyncio.sleep(self.config.retry_period)

    async def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew until cancelled; call ``on_lost`` (which must stop all work) once renewing failed for longer than
        the renew deadline, or another replica holds the Lease."""
        while True:
            await asyncio.sleep(self.config.retry_period)
            if await self._attempt():
                continue
            if not self.is_leader or self._clock() - self.last_renewed >= self.config.renew_deadline:
                self.is_leader = False
                log.error("lost the lease %s/%s: stopping", self.config.namespace, self.config.name)
                on_lost()
                return

    async def release(self) -> None:
        """Give the Lease up on a clean shutdown, so a standby takes over at once instead of after it expires."""
        if not self.is_leader:
            return
        self.is_leader = False
        cfg = self.config
        try:
            lease = await self.client.get(LEASES, cfg.name, cfg.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != cfg.identity:
                return
            # As client-go's ReleaseOnCancel: an empty holder and a 1 s duration.
            lease["spec"] = {**spec, "holderIdentity": None, "leaseDurationSeconds": 1,
                             "renewTime": micro_time(datetime.now(UTC))}
            await self.client.replace(LEASES, cfg.name, lease, cfg.namespace)
            log.info("released the lease %s/%s", cfg.namespace, cfg.name)
        except (ApiError, aiohttp.ClientError, OSError) as e:
            log.warning("could not release the lease %s/%s: %s", cfg.namespace, cfg.name, e)
