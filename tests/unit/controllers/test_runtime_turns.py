"""Runtime.turn: one reconcile per object at a time, a bounded number overall, and ``waiting`` for coalescing."""

from __future__ import annotations

import asyncio

import pytest

from kubetune.controllers.runtime import Runtime
from kubetune.settings import OperatorSettings


def runtime(limit: int = 32) -> Runtime:
    # turn() touches neither the API client nor the HTTP session.
    return Runtime(settings=OperatorSettings(max_concurrent_reconciles=limit), client=None, http=None)  # type: ignore[arg-type]


async def test_waiting_until_the_holder_is_done() -> None:
    rt = runtime()
    entered, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with rt.turn("TrainingJob", "ns", "a"):
            entered.set()
            await release.wait()

    first = asyncio.create_task(holder())
    await entered.wait()
    assert not rt.waiting("TrainingJob", "ns", "a")  # holding is not waiting
    second = asyncio.create_task(holder())
    await asyncio.sleep(0)
    assert rt.waiting("TrainingJob", "ns", "a")
    assert not rt.waiting("TrainingJob", "ns", "b")
    release.set()
    await asyncio.gather(first, second)
    assert not rt.waiting("TrainingJob", "ns", "a")


@pytest.mark.parametrize("limit", [1, 3])
async def test_places_bound_concurrency(limit: int) -> None:
    rt = runtime(limit)
    inside = peak = 0

    async def work(name: str) -> None:
        nonlocal inside, peak
        async with rt.turn("TrainingJob", "ns", name):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(work(f"job-{i}") for i in range(10)))
    assert peak == limit


async def test_zero_means_unbounded() -> None:
    rt = runtime(0)
    inside = peak = 0

    async def work(name: str) -> None:
        nonlocal inside, peak
        async with rt.turn("TrainingJob", "ns", name):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(work(f"job-{i}") for i in range(10)))
    assert peak == 10


async def test_a_cancelled_waiter_takes_nothing_with_it() -> None:
    rt = runtime(1)
    entered, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with rt.turn("TrainingJob", "ns", "a"):
            entered.set()
            await release.wait()

    async def other() -> None:
        async with rt.turn("TrainingJob", "ns", "b"):  # waits for the only place
            pass

    first = asyncio.create_task(holder())
    await entered.wait()
    waiter = asyncio.create_task(other())
    await asyncio.sleep(0)
    assert rt.waiting("TrainingJob", "ns", "b")
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not rt.waiting("TrainingJob", "ns", "b")
    release.set()
    await first
    # Both the object's lock and the place are free again.
    await asyncio.wait_for(other(), timeout=1)
