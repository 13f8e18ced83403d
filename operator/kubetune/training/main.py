"""The training pod's entry point: ``python -m kubetune.training --config /etc/kubetune/job.json``.

It always ends the same way: a ``TrainerResult`` in the termination message and an exit code the Job's
podFailurePolicy understands (0 success, 3 dataset invalid, 4 config invalid, anything else retriable).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from kubetune.api.trainer import DEFAULT_CONFIG_PATH, EXIT_SUCCESS, TrainerConfig, TrainerResult

from .config import load_config
from .errors import ConfigInvalid, TrainerError, TrainingFailed
from .progress import ProgressServer, ProgressTracker, bind_host
from .runner import RunFacts, run
from .termination import write_termination_message

log = logging.getLogger("kubetune.training")

DEFAULT_TERMINATION_PATH = "/dev/termination-log"


def _quiet_libraries() -> None:
    """Pod logs: one line per logging step, not progress bars and advice."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the base model is local; never reach for a hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_warning()


def _failure(error: TrainerError, facts: RunFacts) -> TrainerResult:
    return TrainerResult(
        phase="Failed",
        reason=error.reason,
        message=error.message,
        dataset_stats=facts.dataset_stats,
        validation_split=facts.validation_split,
        resumed_from_step=facts.resumed_from_step,
        errors=error.errors,
    )


def _start_progress_server(config: TrainerConfig, tracker: ProgressTracker) -> ProgressServer | None:
    host = bind_host(config.progress.host)
    try:
        return ProgressServer(tracker, host, config.progress.port).start()
    except OSError as e:  # progress is for watching; a busy port must not cost the run
        log.error("progress endpoint unavailable on %s:%d: %s", host, config.progress.port, e)
        return None


def execute(config: TrainerConfig) -> int:
    """Run ``config`` to its end; write the termination message; return the exit code."""
    tracker = ProgressTracker(job=config.job.name, namespace=config.job.namespace, backend=config.backend)
    server = _start_progress_server(config, tracker)
    facts = RunFacts()
    try:
        _quiet_libraries()
        result = run(config, tracker, facts)
        code = EXIT_SUCCESS
    except TrainerError as e:
        log.error("%s: %s", e.reason, e.message)
        for line in e.errors[:20]:
            log.error("  %s", line)
        result, code = _failure(e, facts), e.exit_code
    except Exception as e:  # anything unforeseen is worth a retry from the last checkpoint
        log.exception("training failed")
        error = TrainingFailed(f"{type(e).__name__}: {e}")
        result, code = _failure(error, facts), error.exit_code
    tracker.update(phase=result.phase)
    write_termination_message(config.termination_message_path, result)
    if server is not None:
        server.stop()
    log.info("%s (%s): %s", result.phase, result.reason, result.message)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubetune.training", description="Train a LoRA adapter.")
    parser.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG_PATH), help="the job config (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
    except ConfigInvalid as e:
        log.error("ConfigInvalid: %s", e.message)
        write_termination_message(DEFAULT_TERMINATION_PATH, _failure(e, RunFacts()))
        return e.exit_code
    return execute(config)
