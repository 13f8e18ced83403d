"""The evaluator pod's entry point: ``python -m kubetune.evaluation --config /etc/kubetune/evaluator.json``.

It always ends the same way: an ``EvaluatorResult`` in the termination message and an exit code the Job's
podFailurePolicy understands (0 success; 3, 4 and 5 permanent; anything else retriable).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from kubetune.api.evaluator import DEFAULT_CONFIG_PATH, EXIT_SUCCESS, EvaluatorConfig, EvaluatorResult

from .config import load_config
from .errors import ConfigInvalid, EvaluatorError, Interrupted
from .progress import ProgressServer, ProgressTracker, bind_host
from .runner import Evaluation, RunFacts
from .secrets import Secrets, install_redaction
from .termination import write_termination_message

log = logging.getLogger("kubetune.evaluation")

DEFAULT_TERMINATION_PATH = "/dev/termination-log"


def _failure(error: EvaluatorError, facts: RunFacts, secrets: Secrets) -> EvaluatorResult:
    return EvaluatorResult(phase="Failed", reason=error.reason, message=secrets.redact(error.message),
                           samples_file=facts.samples_file, resumed=facts.resumed, first_error=facts.first_error)


def _start_progress_server(config: EvaluatorConfig, tracker: ProgressTracker) -> ProgressServer | None:
    host = bind_host(config.progress.host)
    try:
        return ProgressServer(tracker, host, config.progress.port).start()
    except OSError as e:  # progress is for watching; a busy port must not cost the evaluation
        log.error("progress endpoint unavailable on %s:%d: %s", host, config.progress.port, e)
        return None


async def _run_until_signalled(evaluation: Evaluation) -> EvaluatorResult:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        results = await evaluation.run()
    except asyncio.CancelledError as e:
        raise Interrupted("stopped by SIGTERM; the samples written so far are kept for the next pod") from e
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    return EvaluatorResult(
        phase="Succeeded", reason="Completed",
        message=f"{results.samples} samples: {results.verdict} ({results.verdict_message})",
        results=results, samples_file=evaluation.facts.samples_file, resumed=evaluation.facts.resumed,
        first_error=evaluation.facts.first_error)


def execute(config: EvaluatorConfig, secrets: Secrets) -> int:
    """Run ``config`` to its end; write the termination message; return the exit code."""
    tracker = ProgressTracker(comparison=config.comparison.name, namespace=config.comparison.namespace)
    server = _start_progress_server(config, tracker)
    facts = RunFacts()
    try:
        result = asyncio.run(_run_until_signalled(Evaluation(config, tracker, secrets, facts)))
        code = EXIT_SUCCESS
    except EvaluatorError as e:
        log.error("%s: %s", e.reason, secrets.redact(e.message))
        result, code = _failure(e, facts, secrets), e.exit_code
    except Exception as e:  # anything unforeseen is worth a retry: the next pod resumes from the samples
        log.exception("evaluation failed")
        error = EvaluatorError(f"{type(e).__name__}: {e}")
        result, code = _failure(error, facts, secrets), error.exit_code
    tracker.update(phase=result.phase)
    write_termination_message(config.termination_message_path, result)
    if server is not None:
        linger = config.progress.linger_seconds
        if linger and not tracker.wait_samples_delivered(linger):
            log.info("not every sample was read from /samples within %.0fs of the end; exiting", linger)
        server.stop()
    log.info("%s (%s): %s", result.phase, result.reason, result.message)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubetune.evaluation",
                                     description="Compare two served models on the same prompts.")
    parser.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG_PATH), help="the evaluator config (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "openai", "absl"):  # a line per request would bury the pod's log
        logging.getLogger(noisy).setLevel(logging.WARNING)
    secrets = Secrets()
    install_redaction(secrets)
    try:
        config = load_config(args.config)
    except ConfigInvalid as e:
        log.error("ConfigInvalid: %s", e.message)
        write_termination_message(DEFAULT_TERMINATION_PATH, _failure(e, RunFacts(), secrets))
        return e.exit_code
    with contextlib.suppress(Exception):
        # Keys are read before any request (and any log line that could carry one).
        for target in (config.baseline, config.candidate, config.judge):
            if target is not None:
                secrets.api_key(target.api_key_env, "model")
    return execute(config, secrets)
