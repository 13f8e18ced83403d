"""The ``TrainerCallback`` that turns trainer events into progress (step, epoch, loss, learning rate, tokens/s, ETA)
and into the history of every logged step that ``/history`` serves."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from transformers import TrainerCallback

from .tracker import ProgressTracker, now_rfc3339_millis

log = logging.getLogger(__name__)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class ProgressCallback(TrainerCallback):
    """Every hook does O(1) work and swallows its own errors: reporting must never fail or slow training."""

    def __init__(self, tracker: ProgressTracker) -> None:
        self.tracker = tracker
        self._started = 0.0
        self._start_step = 0

    def _safe(self, name: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a progress bug must not end a training run
            log.debug("progress hook %s failed", name, exc_info=True)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._safe("on_train_begin", self._begin, state)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._safe("on_step_end", self._step, state)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._safe("on_log", self._log, logs or {}, state)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._safe("on_train_end", lambda: self.tracker.update(phase="Saving"))

    def _begin(self, state: Any) -> None:
        self._started = time.monotonic()
        self._start_step = int(state.global_step)
        self.tracker.update(phase="Training", step=self._start_step, total_steps=int(state.max_steps) or None)
        # A pod that resumed from a checkpoint has the steps logged before it in the restored state: serve them too,
        # so the loss curve is whole even when nobody read them from the pod that logged them.
        for entry in getattr(state, "log_history", None) or []:
            if "step" in entry and ("loss" in entry or "eval_loss" in entry):
                self.tracker.log_step(int(entry["step"]), epoch=_finite(entry.get("epoch")),
                                      loss=_finite(entry.get("loss")), eval_loss=_finite(entry.get("eval_loss")),
                                      learning_rate=_finite(entry.get("learning_rate")))

    def _step(self, state: Any) -> None:
        step = int(state.global_step)
        total = int(state.max_steps) or None
        fields: dict[str, Any] = {"step": step, "epoch": _finite(state.epoch)}
        if total:
            fields["percent"] = round(100.0 * step / total, 2)
            done = step - self._start_step
            if done > 0:
                rate = (time.monotonic() - self._started) / done
                fields["eta_seconds"] = max(0, round(rate * (total - step)))
        self.tracker.update(**fields)

    def _log(self, logs: dict[str, Any], state: Any) -> None:
        fields: dict[str, Any] = {}
        if "loss" in logs:
            fields["loss"] = _finite(logs["loss"])
        if "learning_rate" in logs:
            fields["learning_rate"] = _finite(logs["learning_rate"])
        if "eval_loss" in logs:
            fields["eval_loss"] = _finite(logs["eval_loss"])
        # TRL counts the non-padding tokens this process has trained on.
        tokens = _finite(logs.get("num_tokens"))
        elapsed = time.monotonic() - self._started
        if tokens is not None and elapsed > 0:
            fields["tokens_per_second"] = round(tokens / elapsed, 1)
        if fields:
            self.tracker.update(**fields)
        if "loss" in logs or "eval_loss" in logs:  # not the run's closing summary (train_loss, train_runtime)
            self.tracker.log_step(int(state.global_step), epoch=_finite(logs.get("epoch", state.epoch)),
                                  time=now_rfc3339_millis(), **fields)
