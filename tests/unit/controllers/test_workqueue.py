"""The TrainingJob work queue: one pass per key at a time, bursts folded, no event lost; offered bodies bounded."""

from __future__ import annotations

import asyncio

from kubetune.controllers.runtime import MAX_OFFERED, Runtime
from kubetune.controllers.workqueue import WorkQueue
from kubetune.settings import OperatorSettings


async def test_a_burst_of_events_for_one_key_costs_one_pass() -> None:
    passes: list[str] = []
    queue: WorkQueue[str] = WorkQueue(lambda key: _record(passes, key), workers=4)
    for _ in range(50):
        queue.add("a")
    await _drain(queue)
    assert passes == ["a"]
    await queue.close()


async def test_an_event_during_a_pass_gets_another_pass_never_a_concurrent_one() -> None:
    running = 0
    most = 0
    passes = 0
    started, release = asyncio.Event(), asyncio.Event()

    async def handler(key: str) -> None:
        nonlocal running, most, passes
        running += 1
        most = max(most, running)
        passes += 1
        started.set()
        await release.wait()
        running -= 1

    queue: WorkQueue[str] = WorkQueue(handler, workers=4)
    queue.add("a")
    await started.wait()
    queue.add("a")  # arrives while "a" is being processed
    queue.add("a")
    release.set()
    await _drain(queue)
    assert (passes, most) == (2, 1)
    await queue.close()


async def test_keys_run_in_parallel_up_to_the_worker_count_and_failures_do_not_stop_it() -> None:
    running = 0
    most = 0

    async def handler(key: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        if key == 3:
            raise RuntimeError("a failing reconcile")

    queue: WorkQueue[int] = WorkQueue(handler, workers=3)
    for key in range(10):
        queue.add(key)
    await _drain(queue)
    assert most == 3
    queue.add(99)
    await _drain(queue)
    await queue.close()


def test_offered_bodies_keep_the_newest_and_are_bounded() -> None:
    rt = Runtime(settings=OperatorSettings(), client=None, http=None)  # type: ignore[arg-type]
    rt.offer("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "5"}})
    rt.offer("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "4"}})  # older: ignored
    assert rt.take("TrainingJob", "ns", "a") == {"metadata": {"resourceVersion": "5"}}
    assert rt.take("TrainingJob", "ns", "a") is None
    for i in range(MAX_OFFERED + 10):
        rt.offer("TrainingJob", "ns", f"j{i}", {"metadata": {"resourceVersion": "1"}})
    assert rt.take("TrainingJob", "ns", f"j{MAX_OFFERED + 5}") is None  # read when its turn comes instead
    assert rt.take("TrainingJob", "ns", "j0") is not None


def test_own_writes_are_recognised() -> None:
    rt = Runtime(settings=OperatorSettings(), client=None, http=None)  # type: ignore[arg-type]
    rt.wrote("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "17"}})
    assert rt.is_own_write("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "17"}})
    assert not rt.is_own_write("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "18"}})
    rt.forget("TrainingJob", "ns", "a")
    assert not rt.is_own_write("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "17"}})


async def _record(passes: list[str], key: str) -> None:
    passes.append(key)


async def _drain(queue: WorkQueue[object]) -> None:  # type: ignore[type-var]
    for _ in range(500):
        await asyncio.sleep(0.005)
        if not len(queue) and not queue._active:
            return
    raise AssertionError("the queue did not drain")
