"""The progress endpoint serves what the trainer callback publishes, as JSON and as Prometheus text."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from transformers import TrainerControl, TrainerState, TrainingArguments

from kubetune.api.trainer import Progress
from kubetune.training.progress import ProgressCallback, ProgressServer, ProgressTracker, bind_host


@pytest.fixture
def served() -> Iterator[tuple[ProgressTracker, str]]:
    tracker = ProgressTracker(job="support-bot", namespace="ml", backend="huggingface")
    server = ProgressServer(tracker, "127.0.0.1", 0).start()
    try:
        yield tracker, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_callback_publishes_step_loss_rate_and_eta(served: tuple[ProgressTracker, str]) -> None:
    tracker, base = served
    callback = ProgressCallback(tracker)
    args, control = TrainingArguments(output_dir="/tmp/unused", report_to=[]), TrainerControl()
    state = TrainerState(global_step=100, max_steps=300, epoch=0.0)
    callback.on_train_begin(args, state, control)  # resumed at step 100
    assert Progress.model_validate_json(get(f"{base}/progress")[2]).phase == "Training"
    time.sleep(0.05)
    state.global_step, state.epoch = 150, 0.5
    callback.on_step_end(args, state, control)
    callback.on_log(args, state, control, logs={"loss": 1.25, "learning_rate": 2e-4, "num_tokens": 5000.0})
    callback.on_log(args, state, control, logs={"eval_loss": 1.5})

    status, content_type, body = get(f"{base}/progress")
    assert status == 200 and content_type == "application/json"
    progress = json.loads(body)
    assert {k: progress[k] for k in ("phase", "step", "totalSteps", "epoch", "loss", "evalLoss", "learningRate",
                                     "percent")} == {
        "phase": "Training", "step": 150, "totalSteps": 300, "epoch": 0.5, "loss": 1.25, "evalLoss": 1.5,
        "learningRate": 2e-4, "percent": 50.0}
    # 50 steps in the elapsed time, 150 to go: the ETA is about three times the elapsed time.
    assert progress["etaSeconds"] >= 0 and progress["tokensPerSecond"] > 0
    assert progress["updatedAt"].endswith("Z")

    status, content_type, body = get(f"{base}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    samples = {s.name + json.dumps(s.labels, sort_keys=True): s.value
               for family in text_string_to_metric_families(body) for s in family.samples}
    assert samples["kubetune_trainer_step{}"] == 150
    assert samples["kubetune_trainer_total_steps{}"] == 300
    assert samples["kubetune_trainer_loss{}"] == 1.25
    assert samples["kubetune_trainer_eval_loss{}"] == 1.5
    assert samples["kubetune_trainer_progress_percent{}"] == 50
    assert samples['kubetune_trainer_phase{"phase": "Training"}'] == 1
    assert samples['kubetune_trainer_phase{"phase": "Failed"}'] == 0
    assert samples['kubetune_trainer_info{"backend": "huggingface", "job": "support-bot", "namespace": "ml"}'] == 1
    assert get(f"{base}/healthz")[0] == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(f"{base}/nope")
    assert missing.value.code == 404


def test_callback_never_raises(served: tuple[ProgressTracker, str]) -> None:
    tracker, _ = served
    callback = ProgressCallback(tracker)
    broken = object()  # no global_step, no epoch: every hook fails inside and must swallow it
    callback.on_train_begin(None, broken, None)
    callback.on_step_end(None, broken, None)
    callback.on_log(None, broken, None, logs={"loss": "nan?", "num_tokens": float("inf")})
    assert tracker.snapshot().phase == "Starting"


def test_serving_does_not_block_updates(served: tuple[ProgressTracker, str]) -> None:
    tracker, base = served
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            get(f"{base}/metrics")

    scrapers = [threading.Thread(target=scrape) for _ in range(4)]
    for t in scrapers:
        t.start()
    start = time.perf_counter()
    for step in range(20000):
        tracker.update(step=step)
    elapsed = time.perf_counter() - start
    stop.set()
    for t in scrapers:
        t.join()
    assert tracker.snapshot().step == 19999
    assert elapsed / 20000 < 1e-3  # each update stays O(1) while the server is busy


def test_bind_host_prefers_config_then_pod_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POD_IP", raising=False)
    assert bind_host(None) == "0.0.0.0"
    monkeypatch.setenv("POD_IP", "127.0.0.7")
    assert bind_host(None) == "127.0.0.7"
    assert bind_host("10.0.0.1") == "10.0.0.1"
