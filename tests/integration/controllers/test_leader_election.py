"""Leader election against the real API server: one holder at a time, takeover only after the lease expires (or at
once after a release), and writes conditional on the Lease's resourceVersion so two candidates never both win."""

from __future__ import annotations

import asyncio

import pytest

from kubetune.controllers.leadership import LeaderElector, LeaseConfig
from kubetune.kube import KubeClient
from kubetune.kube.client import LEASES

pytestmark = [pytest.mark.cluster]


def config(namespace: str, identity: str, duration: float = 3.0) -> LeaseConfig:
    return LeaseConfig(name="kubetune-operator", namespace=namespace, identity=identity, lease_duration=duration,
                       renew_deadline=duration * 0.6, retry_period=0.2)


async def test_one_holder_then_takeover_after_expiry(client: KubeClient, namespace: str) -> None:
    a, b = LeaderElector(client, config(namespace, "a")), LeaderElector(client, config(namespace, "b"))
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew(), "held and fresh: a standby must not take it"
    assert await a.try_acquire_or_renew(), "the holder renews"
    lease = await client.get(LEASES, "kubetune-operator", namespace)
    assert lease["spec"]["holderIdentity"] == "a" and lease["spec"]["leaseDurationSeconds"] == 3
    # a stops renewing (it died): b takes over once the lease has gone unrenewed for its duration, not before.
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(b.acquire(), timeout=15)
    waited = loop.time() - started
    assert waited >= 2.5, f"took over after {waited:.1f}s, before the lease expired"
    lease = await client.get(LEASES, "kubetune-operator", namespace)
    assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] == 1
    assert not await a.try_acquire_or_renew(), "the old leader, back, finds it taken"


async def test_a_release_hands_over_at_once(client: KubeClient, namespace: str) -> None:
    a, b = LeaderElector(client, config(namespace, "a", 30)), LeaderElector(client, config(namespace, "b", 30))
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    await a.release()
    assert await b.try_acquire_or_renew(), "a released lease is free without waiting 30 s"


async def test_candidates_racing_for_a_free_lease_never_both_win(client: KubeClient, namespace: str) -> None:
    electors = [LeaderElector(client, config(namespace, f"c{i}")) for i in range(8)]
    won = await asyncio.gather(*(e.try_acquire_or_renew() for e in electors))
    assert sum(won) == 1
    lease = await client.get(LEASES, "kubetune-operator", namespace)
    assert lease["spec"]["holderIdentity"] == f"c{won.index(True)}"


async def test_a_leader_that_cannot_renew_stops(client: KubeClient, namespace: str) -> None:
    a = LeaderElector(client, config(namespace, "a"))
    assert await a.try_acquire_or_renew()
    # Another replica takes the Lease by force (as after a long partition): the leader must notice and stop.
    lease = await client.get(LEASES, "kubetune-operator", namespace)
    lease["spec"]["holderIdentity"] = "intruder"
    await client.replace(LEASES, "kubetune-operator", lease, namespace)
    lost = asyncio.Event()
    await asyncio.wait_for(a.keep(on_lost=lost.set), timeout=10)
    assert lost.is_set() and not a.is_leader
