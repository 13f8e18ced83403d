"""One training run, from config to result: validate the data, build the trainer, resume, train, write the adapter.

``RunFacts`` collects what is known as the run goes, so that a failure's termination message still carries the
dataset statistics and the step the run resumed from.

Under torchrun every rank runs this same sequence (see ``distributed``): each validates the data and trains on its
shard; rank 0 alone writes the held-out split, the checkpoint markers and the adapter, and picks the checkpoint every
rank resumes from.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.api.trainer import (
    ResultAdapter,
    ResultDatasetStats,
    ResultMetrics,
    ResultValidationSplit,
    TrainerConfig,
    TrainerResult,
)

from .backends import cuda_available, select_backend
from .checkpoints import CheckpointCallback, CheckpointStore
from .datasets.lengths import TokenizerCounter
from .datasets.loading import PreparedDataset, load_dataset
from .datasets.validation import ValidationReport
from .distributed import SOLO, Collectives, Gang, join
from .errors import BaseModelUnavailable, DatasetInvalid, GangStopped, Preempted, TrainerError, TrainingFailed
from .hub import FetchedBaseModel, fetch_base_model
from .output import write_adapter, write_validation_split
from .progress import ProgressCallback, ProgressTracker

log = logging.getLogger(__name__)


@dataclass
class RunFacts:
    dataset_stats: ResultDatasetStats | None = None
    resumed_from_step: int | None = None
    backend: str | None = None
    base_commit: str | None = None
    validation_split: ResultValidationSplit | None = None


def fingerprint(config: TrainerConfig, dataset_sha256: str, base_commit: str | None = None) -> str:
    """What makes a checkpoint resumable by this run: same base, data, adapter shape and optimisation."""
    identity = {
        "base": config.base_model.name,
        # A Hub base is pinned to the commit its branch pointed at: a retry that finds it moved must not resume.
        **({"baseCommit": base_commit} if base_commit else {}),
        "dataset": dataset_sha256,
        "split": [config.dataset.validation_split, config.dataset.seed],
        "method": config.method,
        "lora": config.lora.model_dump(mode="json"),
        "hyperparameters": config.hyperparameters.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def dataset_stats(data: PreparedDataset) -> ResultDatasetStats:
    report = data.report
    return ResultDatasetStats(
        examples=report.accepted,
        train_examples=len(data.train),
        validation_examples=len(data.validation),
        rejected=report.rejected,
        tokens=data.train_tokens,
        sha256=report.sha256,
    )


def _fetch_base_model(config: TrainerConfig, collectives: Collectives | None) -> FetchedBaseModel | None:
    if collectives is None:
        return fetch_base_model(config.base_model)
    with collectives.local_main_first():  # each pod downloads into its own /tmp once
        fetched = fetch_base_model(config.base_model)
    commit = fetched.commit if fetched else None
    # Every rank must train the same weights: a branch that moved between two pods' downloads is a retry.
    if collectives.any(commit != collectives.broadcast(commit)):
        raise BaseModelUnavailable("the base model's branch moved while the pods downloaded it: they hold different "
                                   "commits; the retry downloads it again")
    return fetched


def run(config: TrainerConfig, tracker: ProgressTracker, facts: RunFacts, gang: Gang = SOLO) -> TrainerResult:
    collectives = join(gang, cuda_available()) if gang.distributed else None
    fetched = _fetch_base_model(config, collectives)  # before anything loads the base (the tokenizer, just below)
    facts.base_commit = fetched.commit if fetched else None
    tracker.update(phase="Validating")
    backend = select_backend(config, gang)
    facts.backend = backend.name
    tracker.labels["backend"] = backend.name  # "auto" resolved: what /metrics reports from now on
    tokenizer = backend.load_tokenizer()
    hp = config.hyperparameters
    report = ValidationReport()
    try:
        data = load_dataset(config.dataset, counter=TokenizerCounter(tokenizer), max_seq_length=hp.max_seq_length,
                            report=report)
    except DatasetInvalid:
        # What validation found is what the user needs to fix the data: report it with the failure.
        facts.dataset_stats = ResultDatasetStats(examples=report.accepted, rejected=report.rejected,
                                                 tokens=report.tokens, sha256=report.sha256 or None)
        raise
    facts.dataset_stats = dataset_stats(data)
    if gang.is_main:
        facts.validation_split = write_validation_split(data.validation, config)
    held_out = facts.validation_split

    store = CheckpointStore(Path(config.output.checkpoints_dir),
                            fingerprint(config, data.report.sha256, facts.base_commit), config.checkpoint.keep)
    resume = store.prepare_resume() if gang.is_main else None
    if collectives is not None:
        resume = collectives.broadcast(resume)  # rank 0's choice: every rank resumes from the same step
    facts.resumed_from_step = resume.step if resume else None
    if resume:
        log.info("resuming from %s", resume.path)
    tracker.update(phase="Loading", resumed_from_step=facts.resumed_from_step,
                   checkpoint_step=resume.step if resume else None)

    from transformers import set_seed

    set_seed(hp.seed)  # before the adapter's weights are initialised in build_trainer
    checkpoints = CheckpointCallback(store, tracker, collectives)
    trainer = backend.build_trainer(tokenizer, data, [ProgressCallback(tracker), checkpoints])
    if not gang.is_main:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # one pod log prints the loss lines: rank 0's

    try:
        with checkpoints.sigterm_stops_training():
            output = trainer.train(resume_from_checkpoint=str(resume.path) if resume else None)
    except TrainerError:
        raise
    except (RuntimeError, ValueError, OSError) as e:
        raise TrainingFailed(f"training failed: {e}") from e
    if checkpoints.stop_requested.is_set():
        raise Preempted(f"stopped by SIGTERM at step {trainer.state.global_step} after saving a checkpoint")
    if checkpoints.stopped_by_peer:
        raise GangStopped(f"another process of this run received SIGTERM: every process saved the checkpoint at step "
                          f"{trainer.state.global_step} and stopped")

    eval_loss = None
    if data.validation:
        eval_loss = _number(trainer.evaluate().get("eval_loss"))
    tracker.update(phase="Saving", eval_loss=eval_loss)
    metrics = _metrics(trainer, output, eval_loss)
    if not gang.is_main:
        assert collectives is not None
        collectives.barrier()  # exit only once rank 0 has written the adapter (see below)
        return TrainerResult(phase="Succeeded", reason="Completed", message=f"rank {gang.rank} finished",
                             metrics=metrics)
    assert held_out is not None, "rank 0 wrote the held-out split"
    adapter = write_adapter(
        trainer.model,
        getattr(trainer, "processing_class", None) or tokenizer,  # Unsloth's own tokenizer, where it loaded one
        config,
        {
            "backend": backend.name,
            "dataset": {"format": config.dataset.format, **facts.dataset_stats.model_dump(by_alias=True)},
            "metrics": metrics.model_dump(by_alias=True),
            "resumedFromStep": facts.resumed_from_step,
            "validationSplit": held_out.model_dump(by_alias=True),
        },
        base_commit=facts.base_commit,
    )
    if collectives is not None:
        # The other ranks wait here: a pod that succeeds before rank 0 has written the adapter would be a finished
        # index that the Job never restarts, should rank 0's pod fail now, and the restarted rank 0 would wait for it.
        collectives.barrier()
    return TrainerResult(
        phase="Succeeded",
        reason="Completed",
        message=f"trained {metrics.steps} steps with {backend.name}; adapter in {adapter.path}",
        metrics=metrics,
        dataset_stats=facts.dataset_stats,
        adapter=ResultAdapter(path=str(adapter.path), sha256=adapter.sha256, size_bytes=adapter.size_bytes,
                              rank=config.lora.r, alpha=config.lora.alpha),
        validation_split=held_out,
        resumed_from_step=facts.resumed_from_step,
    )


def _metrics(trainer: Any, output: Any, eval_loss: float | None) -> ResultMetrics:
    runtime = _number(output.metrics.get("train_runtime"))
    # TRL counts the non-padding tokens it trained on (the same count a plain SFTTrainer run has), gathered from
    # every rank under DDP: the run's throughput, not one process's.
    tokens = _number(getattr(trainer, "_total_train_tokens", None))
    # The latest logging window's loss; the history includes what a resumed run restored from its checkpoint.
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return ResultMetrics(
        train_loss=_number(losses[-1]) if losses else None,
        eval_loss=eval_loss,
        steps=int(trainer.state.global_step),
        epochs=_number(trainer.state.epoch),
        tokens_per_second=round(tokens / runtime, 1) if tokens and runtime else None,
        runtime_seconds=runtime,
    )


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
