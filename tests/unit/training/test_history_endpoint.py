"""/history serves every logged step (a training log and the evaluation at the same step are one point), from a given
step on, including what a resumed pod restored from its checkpoint; fetch_history reads it as the operator does."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web
from transformers import TrainerControl, TrainerState, TrainingArguments

from kubetune.api.trainer import TrainingHistory
from kubetune.store import HistoryUnavailable, fetch_history
from kubetune.training.progress import ProgressCallback, ProgressServer, ProgressTracker


@pytest.fixture
def served() -> Iterator[tuple[ProgressTracker, ProgressServer]]:
    tracker = ProgressTracker(job="support-bot", namespace="ml", backend="huggingface")
    server = ProgressServer(tracker, "127.0.0.1", 0).start()
    try:
        yield tracker, server
    finally:
        server.stop()


def get_history(server: ProgressServer, query: str = "") -> TrainingHistory:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/history{query}", timeout=5) as response:
        return TrainingHistory.model_validate_json(response.read())


def train(callback: ProgressCallback, state: TrainerState, steps: range, every: int) -> None:
    args, control = TrainingArguments(output_dir="/tmp/unused", report_to=[]), TrainerControl()
    for step in steps:
        state.global_step, state.epoch = step, step / 100
        callback.on_step_end(args, state, control)
        if step % every == 0:
            callback.on_log(args, state, control, logs={"loss": 3.0 - step / 100, "learning_rate": 1e-4,
                                                       "num_tokens": 100.0 * step, "epoch": step / 100})
        if step % (2 * every) == 0:
            callback.on_log(args, state, control, logs={"eval_loss": 4.0 - step / 100, "epoch": step / 100})


def test_every_logged_step_once_from_since(served: tuple[ProgressTracker, ProgressServer]) -> None:
    tracker, server = served
    callback = ProgressCallback(tracker)
    state = TrainerState(global_step=0, max_steps=60)
    callback.on_train_begin(TrainingArguments(output_dir="/tmp/unused", report_to=[]), state, TrainerControl())
    train(callback, state, range(1, 61), every=5)
    # The run's closing summary has no loss of its own: it is not a step.
    callback.on_log(None, state, None, logs={"train_loss": 2.1, "train_runtime": 3.0})

    points = get_history(server).points
    assert [p.step for p in points] == list(range(5, 61, 5))
    ten = next(p for p in points if p.step == 10)
    assert (ten.loss, ten.eval_loss, ten.learning_rate, ten.epoch) == (2.9, 3.9, 1e-4, 0.1)
    assert ten.tokens_per_second and ten.tokens_per_second > 0 and ten.time and ten.time.endswith("Z")
    assert next(p for p in points if p.step == 15).eval_loss is None

    assert [p.step for p in get_history(server, "?since=40").points] == [40, 45, 50, 55, 60]  # inclusive
    assert get_history(server, "?since=61").points == []
    with pytest.raises(urllib.error.HTTPError) as bad:
        get_history(server, "?since=-3")
    assert bad.value.code == 400


def test_an_evaluation_completes_the_step_it_follows(served: tuple[ProgressTracker, ProgressServer]) -> None:
    tracker, server = served
    tracker.log_step(10, loss=2.0, time="2026-01-01T00:00:00.000Z")
    assert get_history(server, "?since=10").points[0].eval_loss is None  # read between the two logs
    tracker.log_step(10, eval_loss=2.5, loss=9.9)  # fills what was empty, keeps what was known
    point = get_history(server, "?since=10").points[0]
    assert (point.loss, point.eval_loss, point.time) == (2.0, 2.5, "2026-01-01T00:00:00.000Z")


def test_a_resumed_pod_serves_the_steps_its_checkpoint_recorded(
        served: tuple[ProgressTracker, ProgressServer]) -> None:
    tracker, server = served
    restored = TrainerState(global_step=20, max_steps=60, log_history=[
        {"loss": 3.0, "learning_rate": 1e-4, "epoch": 0.1, "step": 10},
        {"eval_loss": 3.5, "epoch": 0.1, "step": 10},
        {"loss": 2.5, "learning_rate": 1e-4, "epoch": 0.2, "step": 20},
    ])
    callback = ProgressCallback(tracker)
    callback.on_train_begin(TrainingArguments(output_dir="/tmp/unused", report_to=[]), restored, TrainerControl())
    train(callback, restored, range(21, 31), every=10)
    points = get_history(server).points
    assert [(p.step, p.loss, p.eval_loss) for p in points] == [(10, 3.0, 3.5), (20, 2.5, None), (30, 2.7, None)]
    assert points[0].time is None and points[2].time is not None  # restored steps have no wall time


def test_linger_ends_with_the_first_read_after_the_end(served: tuple[ProgressTracker, ProgressServer]) -> None:
    tracker, server = served
    tracker.log_step(5, loss=1.0)
    get_history(server)
    assert not tracker.wait_history_delivered(0.05)  # read before the end: the tail may still grow
    tracker.finish()
    assert not tracker.wait_history_delivered(0.05)
    get_history(server, "?since=5")
    assert tracker.wait_history_delivered(0.05)


async def test_fetch_history_as_the_operator_does(served: tuple[ProgressTracker, ProgressServer]) -> None:
    tracker, server = served
    for step in (5, 10, 15):
        tracker.log_step(step, loss=float(step), epoch=step / 10)
    async with aiohttp.ClientSession() as session:
        points = await fetch_history(session, "127.0.0.1", server.port, since=10)
        assert [(p.step, p.loss) for p in points] == [(10, 10.0), (15, 15.0)]
        server.stop()
        with pytest.raises(HistoryUnavailable, match=f"127.0.0.1:{server.port}/history"):
            await fetch_history(session, "127.0.0.1", server.port, seconds=2)


@pytest.mark.parametrize(("status", "body", "problem"), [
    (404, "not found", "HTTP 404"),
    (200, "<html>hello</html>", "not a training history"),
    (200, '{"points": [{"loss": 1.0}]}', "points.0.step"),
])
async def test_fetch_history_refuses_what_is_not_a_trainer(status: int, body: str, problem: str) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=status, text=body)

    app = web.Application()
    app.router.add_get("/history", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(HistoryUnavailable, match=problem):
                await fetch_history(session, "127.0.0.1", port)
    finally:
        await runner.cleanup()
