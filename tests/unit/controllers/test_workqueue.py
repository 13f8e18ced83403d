"""The work queue every kind runs on: one pass per key at a time, bursts folded, no event lost, failures retried with
a per-key exponential backoff and reported; offered bodies bounded and ordered by resourceVersion."""

from __future__ import annotations

import asyncio

from kubetune.controllers.runtime import MAX_OFFERED, Runtime
from kubetune.controllers.workqueue import Backoff, Gate, Requeue, WorkQueue
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


def test_backoff_doubles_per_failure_up_to_its_cap() -> None:
    backoff = Backoff(base=0.1, cap=120.0)
    assert [backoff.delay(n) for n in range(5)] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert backoff.delay(11) == 120.0 and backoff.delay(10_000) == 120.0


async def test_a_failing_key_is_retried_with_growing_delays_and_reported() -> None:
    attempts = 0
    reported: list[tuple[str, str, int]] = []

    async def handler(key: str) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise RuntimeError(f"boom {attempts}")

    async def on_error(key: str, error: Exception, failures: int) -> None:
        reported.append((key, str(error), failures))

    queue: WorkQueue[str] = WorkQueue(handler, workers=2, backoff=Backoff(base=0.01, cap=0.05), on_error=on_error)
    queue.add("a")
    for _ in range(400):
        await asyncio.sleep(0.005)
        if attempts == 4:
            break
    assert attempts == 4, "retried by itself after each failure, with no event to trigger it"
    assert reported == [("a", "boom 1", 1), ("a", "boom 2", 2), ("a", "boom 3", 3)]
    await _drain(queue)
    assert queue.failures("a") == 0, "a success starts the next backoff from the base delay"
    await queue.close()


async def test_requeue_after_and_backoff_results() -> None:
    passes: list[str] = []
    results = {"timer": [Requeue(after=0.02), None], "waiting": [Requeue(backoff=True), Requeue(backoff=True), None]}

    async def handler(key: str) -> Requeue | None:
        passes.append(key)
        return results[key].pop(0)

    queue: WorkQueue[str] = WorkQueue(handler, workers=2, backoff=Backoff(base=0.01, cap=0.02))
    queue.add("timer")
    queue.add("waiting")
    for _ in range(400):
        await asyncio.sleep(0.005)
        if not any(results.values()):
            break
    assert sorted(passes) == ["timer", "timer", "waiting", "waiting", "waiting"]
    assert queue.failures("waiting") == 0
    await queue.close()


async def test_add_after_keeps_the_earliest_timer_and_discard_cancels_it() -> None:
    passes: list[str] = []
    queue: WorkQueue[str] = WorkQueue(lambda key: _record(passes, key), workers=1)
    queue.add_after("a", 30)
    queue.add_after("a", 0.01)  # earlier: replaces the 30 s timer
    queue.add_after("a", 20)  # later than the pending one: ignored
    await asyncio.sleep(0.1)
    assert passes == ["a"]
    queue.add_after("b", 0.02)
    queue.discard("b")  # the object is gone
    await asyncio.sleep(0.1)
    assert passes == ["a"]
    await queue.close()


def test_offered_bodies_are_ordered_as_the_api_orders_resource_versions() -> None:
    # "10" is newer than "9": compared as decimals (KEP-5504), not as strings.
    rt = Runtime(settings=OperatorSettings(), client=None, http=None)  # type: ignore[arg-type]
    rt.offer("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "9"}})
    rt.offer("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "10"}})
    rt.offer("TrainingJob", "ns", "a", {"metadata": {"resourceVersion": "8"}})
    assert rt.take("TrainingJob", "ns", "a") == {"metadata": {"resourceVersion": "10"}}


async def _record(passes: list[str], key: str) -> None:
    passes.append(key)


async def _drain(queue: WorkQueue[object]) -> None:  # type: ignore[type-var]
    for _ in range(500):
        await asyncio.sleep(0.005)
        if not len(queue) and not queue._active:
            return
    raise AssertionError("the queue did not drain")


async def test_keys_of_new_objects_go_ahead_of_those_waiting() -> None:
    order: list[str] = []
    gate = asyncio.Event()

    async def handler(key: str) -> None:
        if key == "blocker":
            await gate.wait()
        order.append(key)

    queue: WorkQueue[str] = WorkQueue(handler, workers=1)
    queue.add("blocker")
    await asyncio.sleep(0.01)  # the one worker is busy
    for key in ("old-1", "old-2"):
        queue.add(key)
    queue.add("new", first=True)
    gate.set()
    await _drain(queue)
    assert order == ["blocker", "new", "old-1", "old-2"]
    await queue.close()


async def test_while_the_gate_is_closed_only_new_objects_are_reconciled() -> None:
    """A burst's creations close the gate: passes on objects already reconciled wait for it, and a worker waiting
    there takes a new object's key the moment it comes, rather than sitting on an old one."""
    order: list[str] = []
    gate = Gate(cap=30.0)
    queue: WorkQueue[str] = WorkQueue(lambda key: _record(order, key), workers=1, gate=gate)
    with gate.closed_while():
        queue.add("old")
        await asyncio.sleep(0.05)
        assert order == []  # the one worker waits at the gate with "old"
        queue.add("new", first=True)
        await asyncio.sleep(0.05)
        assert order == ["new"]  # ... and took the newcomer instead
    await _drain(queue)  # the gate opened: the old object's pass runs
    assert order == ["new", "old"]
    await queue.close()


async def test_a_gate_held_closed_delays_other_passes_by_its_cap_at_most() -> None:
    order: list[str] = []
    gate = Gate(cap=0.1)
    queue: WorkQueue[str] = WorkQueue(lambda key: _record(order, key), workers=2, gate=gate)
    with gate.closed_while():  # a stream of creations that never pauses
        queue.add("old")
        await asyncio.sleep(0.02)
        assert order == []
        for _ in range(100):
            if order:
                break
            await asyncio.sleep(0.01)
        assert order == ["old"]
        assert gate.closed
    await queue.close()


async def test_a_queue_without_a_gate_ignores_one() -> None:
    order: list[str] = []
    gate = Gate(cap=30.0)
    queue: WorkQueue[str] = WorkQueue(lambda key: _record(order, key), workers=1)
    with gate.closed_while():
        queue.add("old")
        await _drain(queue)
    assert order == ["old"]
    await queue.close()


async def test_child_events_within_the_window_share_one_pass() -> None:
    passes: list[tuple[str, str]] = []
    rt = Runtime(settings=OperatorSettings(), client=None, http=None)  # type: ignore[arg-type]
    queue: WorkQueue[tuple[str, str]] = WorkQueue(lambda key: _record(passes, key), workers=4)  # type: ignore[arg-type]
    rt.queues["TrainingJob"] = queue
    for _ in range(5):  # a Job's and its pod's events, written within a moment
        rt.enqueue_soon("TrainingJob", "ns", "a", 0.05)
        await asyncio.sleep(0.005)
    assert passes == []  # nothing before the window ends
    await asyncio.sleep(0.1)
    await _drain(queue)
    assert passes == [("ns", "a")]
    rt.enqueue_soon("TrainingJob", "ns", "a", 0.05)  # a later event: a pass of its own
    await asyncio.sleep(0.1)
    await _drain(queue)
    assert passes == [("ns", "a"), ("ns", "a")]
    await queue.close()
