"""progress.status_patch: a trainer's /progress report as the TrainingJob status fields it updates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubetune.api import TrainingJobStatus
from kubetune.api.trainer import Progress
from kubetune.controllers.progress import human_duration, status_patch

NOW = datetime(2026, 3, 1, 10, 15, 30, 987654, tzinfo=UTC)


def test_full_report() -> None:
    progress = Progress(phase="Training", step=120, total_steps=900, epoch=0.4, loss=1.23, eval_loss=1.4,
                        learning_rate=2e-4, tokens_per_second=5400.5, percent=13.3, eta_seconds=1800,
                        checkpoint_step=100, resumed_from_step=100)
    patch = status_patch(progress, NOW)
    assert patch["progress"] == {
        "step": 120, "totalSteps": 900, "epoch": 0.4, "loss": 1.23, "evalLoss": 1.4, "learningRate": 2e-4,
        "tokensPerSecond": 5400.5, "percent": 13.3, "etaSeconds": 1800, "eta": "30m0s", "resumedFromStep": 100,
        "updatedAt": "2026-03-01T10:15:30Z",
    }
    assert patch["lastCheckpoint"] == {"step": 100}


def test_losses_are_rounded_for_kubectl_get() -> None:
    # `kubectl get tj` prints a number column as stored: 4.261234567890123 would fill the terminal.
    patch = status_patch(Progress(phase="Training", step=3, loss=4.261234567890123, eval_loss=4.3999999,
                                  tokens_per_second=1234.5678, eta_seconds=3725), NOW)
    assert patch["progress"]["loss"] == 4.2612
    assert patch["progress"]["evalLoss"] == 4.4
    assert patch["progress"]["tokensPerSecond"] == 1234.6
    assert patch["progress"]["eta"] == "1h2m"


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0s"), (59, "59s"), (60, "1m0s"), (3599, "59m59s"),
                                                (3600, "1h0m"), (90061, "25h1m")])
def test_eta_is_shown_as_a_duration(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_unknowns_are_left_out_not_nulled() -> None:
    # A merge patch with null would delete what an earlier report set; an unknown value is simply not sent.
    patch = status_patch(Progress(phase="Loading"), NOW)
    assert patch == {"progress": {"step": 0, "updatedAt": "2026-03-01T10:15:30Z"}}
    assert "lastCheckpoint" not in patch


def test_the_trainers_phase_is_not_the_jobs() -> None:
    patch = status_patch(Progress(phase="Saving", step=900, total_steps=900, percent=100.0), NOW)
    assert "phase" not in patch and "phase" not in patch["progress"]


@pytest.mark.parametrize("progress", [
    Progress(phase="Training", step=5, total_steps=10, percent=50.0, loss=2.5, checkpoint_step=4),
    Progress(phase="Starting"),
])
def test_patch_fits_the_status_schema(progress: Progress) -> None:
    # What the operator writes must be what the CRD (generated from the same models) accepts.
    parsed = TrainingJobStatus.model_validate({"phase": "Running", **status_patch(progress, NOW)})
    assert parsed.progress is not None
    assert parsed.progress.step == progress.step
    assert parsed.progress.updated_at == NOW.replace(microsecond=0)
