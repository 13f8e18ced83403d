"""The training pod's entry point: ``python -m kubetune.training --config /etc/kubetune/job.json``.

It always ends the same way: a ``TrainerResult`` in the termination message and an exit code the Job's
podFailurePolicy understands (0 success, 3 dataset invalid, 4 config invalid, 5 stopped with a preempted peer,
anything else retriable). What it writes (the termination message and every log line) is redacted: no
connection-string password, and not the dataset database URL the pod was given.

Under torchrun (several processes) rank 0 alone serves progress and writes the termination message; the other ranks
only train and exit with their code.
"""

from __future__ import annotations

import argparse
import logging
import os
import traceback
from pathlib import Path

from kubetune.api.trainer import DEFAULT_CONFIG_PATH, EXIT_SUCCESS, TrainerConfig, TrainerResult
from kubetune.redaction import connection_secrets, redact, redact_logging

from .config import load_config
from .distributed import gang_from_env, quiet_replica_logging
from .errors import ConfigInvalid, TrainerError, TrainingFailed
from .progress import ProgressServer, ProgressTracker, bind_host
from .runner import RunFacts, run
from .termination import redact_result, write_termination_message

log = logging.getLogger("kubetune.training")

DEFAULT_TERMINATION_PATH = "/dev/termination-log"


def _quiet_libraries() -> None:
    """Pod logs: one line per logging step, not progress bars and advice."""
    # The base model is local: loading it must never reach for a hub. huggingface_hub has read HF_HUB_OFFLINE by now
    # (the training modules import transformers), so this reaches only child processes; hub.py turns the flag itself
    # on, after downloading an hf:// base.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import huggingface_hub
    import transformers

    huggingface_hub.utils.disable_progress_bars()
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


def known_secrets(config: TrainerConfig) -> frozenset[str]:
    """The secret values this run was given, to be removed from whatever it reports: the dataset database URL (read
    from a Secret into the environment) and the password inside it."""
    postgres = config.dataset.postgres
    return connection_secrets(os.environ.get(postgres.database_url_env)) if postgres else frozenset()


def _start_progress_server(config: TrainerConfig, tracker: ProgressTracker) -> ProgressServer | None:
    host = bind_host(config.progress.host)
    try:
        return ProgressServer(tracker, host, config.progress.port).start()
    except OSError as e:  # progress is for watching; a busy port must not cost the run
        log.error("progress endpoint unavailable on %s:%d: %s", host, config.progress.port, e)
        return None


def execute(config: TrainerConfig) -> int:
    """Run ``config`` to its end; write the termination message; return the exit code."""
    gang = gang_from_env()
    quiet_replica_logging(gang)
    tracker = ProgressTracker(job=config.job.name, namespace=config.job.namespace, backend=config.backend)
    server = _start_progress_server(config, tracker) if gang.is_main else None
    facts = RunFacts()
    secrets = known_secrets(config)
    try:
        _quiet_libraries()
        result = run(config, tracker, facts, gang)
        code = EXIT_SUCCESS
    except TrainerError as e:
        log.error("%s: %s", e.reason, redact(e.message, *secrets))
        for line in e.errors[:20]:
            log.error("  %s", redact(line, *secrets))
        result, code = _failure(e, facts), e.exit_code
    except Exception as e:  # anything unforeseen is worth a retry from the last checkpoint
        # Formatted here rather than by log.exception, so that it is redacted whoever configured logging.
        log.error("training failed\n%s", redact(traceback.format_exc(), *secrets))
        error = TrainingFailed(f"{type(e).__name__}: {e}")
        result, code = _failure(error, facts), error.exit_code
    result = redact_result(result, secrets)
    tracker.update(phase=result.phase)
    tracker.finish()
    if gang.is_main:  # one termination message per pod, and the operator reads rank 0's
        write_termination_message(config.termination_message_path, result, secrets)
    if server is not None:
        # The operator reads /history every few seconds: wait for its next read, so the last steps reach the mirror.
        if config.progress.linger_seconds and not tracker.wait_history_delivered(config.progress.linger_seconds):
            log.info("no /history read within %.0fs of the end; exiting", config.progress.linger_seconds)
        server.stop()
    log.info("%s (%s): %s", result.phase, result.reason, result.message)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubetune.training", description="Train a LoRA adapter.")
    parser.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG_PATH), help="the job config (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Libraries log too (a driver may quote its connection string): every line of this process is redacted.
    log_secrets = redact_logging()
    try:
        config = load_config(args.config)
    except ConfigInvalid as e:
        log.error("ConfigInvalid: %s", e.message)
        write_termination_message(DEFAULT_TERMINATION_PATH, _failure(e, RunFacts()))
        return e.exit_code
    log_secrets |= known_secrets(config)
    return execute(config)
