"""The live view of a TrainingJob: bar, loss with its sparkline, tokens/s, phase and reason; and the plain lines a log
gets instead."""

from __future__ import annotations

from typing import Any

from cli_objects import trainingjob
from rich.console import Console

from kubetune.cli.training_view import TrainingView, sparkline


def progress(step: int, loss: float | None, total: int = 200, **extra: Any) -> dict[str, Any]:
    return {"progress": {"step": step, "totalSteps": total, "loss": loss, "percent": 100 * step / total,
                         "tokensPerSecond": 5400.0, "etaSeconds": 90, "epoch": step / 50, **extra}}


def render(view: TrainingView) -> str:
    console = Console(width=100, record=True, color_system=None, force_terminal=False)
    console.print(view.renderable())
    return console.export_text()


def test_sparkline_follows_the_curve() -> None:
    line = sparkline([4.0, 3.0, 2.0, 1.0])
    assert len(line) == 4
    assert line[0] == "█" and line[-1] == "▁"
    assert sparkline([]) == ""
    assert len(sparkline([float(i) for i in range(100)])) == 48  # the last 48 points


def test_a_running_job_shows_bar_loss_curve_tokens_and_reason() -> None:
    view = TrainingView("facts", "kubetune-demo")
    for step, loss in ((10, 4.2), (10, 4.2), (15, 4.2), (20, 3.1), (40, 2.0)):
        view.update(trainingjob(phase="Running", reason="Training", message="pod facts-trainer-x is training",
                                **progress(step, loss)))
    assert view.losses == [4.2, 3.1, 2.0]  # a re-read, or a step that repeats the loss, adds no point
    text = render(view)
    assert "TrainingJob facts (kubetune-demo)  Running  Training" in text
    assert "step 40/200" in text and "20%" in text and "ETA 1:30" in text
    assert f"loss 2 {sparkline([4.2, 3.1, 2.0])}" in text
    assert "(first 4.2, min 2)" in text
    assert "5,400 tokens/s" in text and "epoch 0.80" in text
    assert "pod facts-trainer-x is training" in text


def test_a_retry_that_resumes_earlier_restarts_the_curve() -> None:
    view = TrainingView("facts", "ns")
    view.update(trainingjob(**progress(60, 2.0)))
    view.update(trainingjob(failedAttempts=1, **progress(50, 2.4, resumedFromStep=50)))
    assert view.losses == [2.4]
    text = render(view)
    assert "1 failed attempt(s)" in text and "resumed from step 50" in text


def test_a_queued_job_has_an_indeterminate_bar_and_its_message() -> None:
    view = TrainingView("greedy", "ns")
    view.update(trainingjob("greedy", phase="Queued", reason="Unschedulable",
                            message="0/1 nodes are available: 1 Insufficient nvidia.com/gpu."))
    text = render(view)
    assert "Queued  Unschedulable" in text and "Insufficient nvidia.com/gpu" in text
    assert "loss" not in text
    assert view.line() == "Queued  Unschedulable  0/1 nodes are available: 1 Insufficient nvidia.com/gpu."


def test_log_lines_come_on_changes_not_on_every_poll() -> None:
    view = TrainingView("facts", "ns")
    lines = []
    for step, loss in ((10, 4.0), (11, 4.0), (12, 4.0), (20, 3.5), (21, 3.5), (45, 3.5)):
        view.update(trainingjob(reason="Training", **progress(step, loss, total=100)))
        lines.append(view.line())
    assert lines == [
        "Running  Training  step 10/100  10%  loss 4  5,400 tokens/s  ETA 1:30",
        None, None,
        "Running  Training  step 20/100  20%  loss 3.5  5,400 tokens/s  ETA 1:30",
        None,
        "Running  Training  step 45/100  45%  loss 3.5  5,400 tokens/s  ETA 1:30",
    ]
    view.update(trainingjob(phase="Succeeded", reason="Completed", **progress(100, 3.0, total=100)))
    assert view.finished
    assert view.line() == "Succeeded  Completed  step 100/100  100%  loss 3  5,400 tokens/s"
