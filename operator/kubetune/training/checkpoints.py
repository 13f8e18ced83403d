"""Resumable checkpoints: mark the complete ones, keep the newest K, resume from the newest valid one.

The trainer writes ``checkpoint-<step>`` file by file, so a pod killed mid-save leaves a partial directory. A
checkpoint counts only once kubetune has synced its files and written a marker (``kubetune-checkpoint.json``) beside
them, last. The marker also holds a fingerprint of what is being trained (base model, dataset digest, LoRA shape,
hyperparameters): a checkpoint of a different run is never resumed from.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from transformers import TrainerCallback

from .distributed import Collectives
from .durable import fsync_path, fsync_tree
from .progress import ProgressTracker

log = logging.getLogger(__name__)

MARKER = "kubetune-checkpoint.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")
# What the Trainer needs to resume: the adapter, and the optimizer, scheduler and step it had reached.
REQUIRED = ("adapter_model.safetensors", "adapter_config.json", "trainer_state.json", "optimizer.pt", "scheduler.pt")


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path


class CheckpointStore:
    """The checkpoints of one run under ``root``."""

    def __init__(self, root: Path, fingerprint: str, keep: int) -> None:
        self.root = Path(root)
        self.fingerprint = fingerprint
        self.keep = keep

    def all(self) -> list[Checkpoint]:
        if not self.root.is_dir():
            return []
        found = [
            Checkpoint(int(m.group(1)), p) for p in self.root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))
        ]
        return sorted(found, key=lambda c: c.step)

    def is_valid(self, checkpoint: Checkpoint) -> bool:
        try:
            marker = json.loads((checkpoint.path / MARKER).read_text())
        except (OSError, ValueError):
            return False
        if marker.get("step") != checkpoint.step or marker.get("fingerprint") != self.fingerprint:
            return False
        sizes = marker.get("files", {})
        for name in REQUIRED:
            file = checkpoint.path / name
            if not file.is_file() or sizes.get(name) != file.stat().st_size:
                return False
        return True

    def newest_valid(self) -> Checkpoint | None:
        valid = [c for c in self.all() if self.is_valid(c)]
        return valid[-1] if valid else None

    def prepare_resume(self) -> Checkpoint | None:
        """At start-up: delete what cannot be resumed from (partial saves, other runs'), return the newest valid."""
        for checkpoint in self.all():
            if not self.is_valid(checkpoint):
                log.warning("removing checkpoint %s: incomplete or from another run", checkpoint.path.name)
                shutil.rmtree(checkpoint.path, ignore_errors=True)
        return self.newest_valid()

    def mark(self, step: int) -> Checkpoint | None:
        """Declare ``checkpoint-<step>`` complete (after the Trainer has written it); None if it is not complete."""
        checkpoint = Checkpoint(step, self.root / f"checkpoint-{step}")
        missing = [n for n in REQUIRED if not (checkpoint.path / n).is_file()]
        if missing:
            log.error("checkpoint %s lacks %s; not marking it", checkpoint.path.name, ", ".join(missing))
            return None
        fsync_tree(checkpoint.path)
        marker = {
            "step": step,
            "fingerprint": self.fingerprint,
            "files": {n: (checkpoint.path / n).stat().st_size for n in REQUIRED},
        }
        tmp = checkpoint.path / f".{MARKER}.tmp"
        with tmp.open("w") as out:
            json.dump(marker, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, checkpoint.path / MARKER)
        fsync_path(checkpoint.path)
        return checkpoint

    def prune(self) -> None:
        """Keep the newest ``keep`` valid checkpoints; delete older ones (valid or not)."""
        checkpoints = self.all()
        valid = [c for c in checkpoints if self.is_valid(c)]
        kept = {c.step for c in valid[-self.keep :]}
        newest_kept = max(kept, default=None)
        for checkpoint in checkpoints:
            # A partial checkpoint newer than the newest valid one may be a save in progress: leave it.
            if checkpoint.step not in kept and (newest_kept is None or checkpoint.step < newest_kept):
                shutil.rmtree(checkpoint.path, ignore_errors=True)


class CheckpointCallback(TrainerCallback):
    """Marks each checkpoint complete right after the Trainer saves it, rotates old ones, and turns SIGTERM
    (preemption, eviction) into one last checkpoint and a clean stop.

    In a distributed run (``collectives`` set) rank 0 alone marks and rotates (every rank writes into the same
    directory on the shared volume), and the ranks agree after every step whether any of them got SIGTERM, so that
    all save the same checkpoint and stop together: a rank stopping alone would leave the others in a collective.
    """

    def __init__(self, store: CheckpointStore, tracker: ProgressTracker,
                 collectives: Collectives | None = None) -> None:
        self.store = store
        self.tracker = tracker
        self.collectives = collectives
        self.stop_requested = threading.Event()
        self.stopped_by_peer = False  # another rank got SIGTERM; this one stopped with it

    @contextlib.contextmanager
    def sigterm_stops_training(self) -> Iterator[None]:
        """While training, SIGTERM asks for a last checkpoint and a clean stop instead of killing the process."""

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            log.warning("SIGTERM: saving a checkpoint at the end of this step, then stopping")
            self.stop_requested.set()

        try:
            previous = signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:  # not the main thread: keep the default handler
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        stop = self.stop_requested.is_set()
        if self.collectives is not None:
            # One tiny all-reduce per step, so every rank stops after the same one.
            anyone = self.collectives.any(stop)
            self.stopped_by_peer = anyone and not stop
            stop = anyone
        if stop:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.collectives is not None and not self.collectives.gang.is_main:
            return
        try:
            checkpoint = self.store.mark(int(state.global_step))
            self.store.prune()
        except OSError:
            log.exception("could not finish checkpoint %d; training goes on", state.global_step)
            return
        if checkpoint is not None:
            self.tracker.update(checkpoint_step=checkpoint.step)
            log.info("checkpoint %d saved", checkpoint.step)
