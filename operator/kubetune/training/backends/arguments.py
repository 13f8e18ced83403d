"""The job's hyperparameters as a TRL ``SFTConfig``: the one place both backends take their training arguments from."""

from __future__ import annotations

from typing import Any

from kubetune.api.trainer import TrainerConfig


def sft_config(
    config: TrainerConfig,
    *,
    cuda: bool,
    has_validation: bool,
    assistant_only_loss: bool,
    distributed: bool = False,
    **overrides: Any,
) -> Any:
    """An ``SFTConfig`` for ``config``. Checkpoint rotation is left to kubetune (``save_total_limit=None``), which
    deletes only checkpoints it has marked complete. ``distributed``: one of several DDP processes (torchrun)."""
    import torch
    from trl import SFTConfig

    hp = config.hyperparameters
    bf16 = cuda and torch.cuda.is_bf16_supported()
    args: dict[str, Any] = {
        "output_dir": config.output.checkpoints_dir,
        "num_train_epochs": hp.epochs,
        "max_steps": hp.max_steps or -1,
        "per_device_train_batch_size": hp.batch_size,
        "per_device_eval_batch_size": hp.batch_size,
        "gradient_accumulation_steps": hp.gradient_accumulation_steps,
        "learning_rate": hp.learning_rate,
        "lr_scheduler_type": hp.lr_scheduler,
        # transformers 5 reads a float in [0, 1) here as a share of the total steps.
        "warmup_steps": hp.warmup_ratio,
        "max_length": hp.max_seq_length,
        "seed": hp.seed,
        "data_seed": hp.seed,
        "logging_steps": config.progress.log_every_steps,
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": config.checkpoint.every_steps,
        "save_total_limit": None,
        "eval_strategy": "steps" if has_validation else "no",
        "eval_steps": config.checkpoint.every_steps if has_validation else None,
        "assistant_only_loss": assistant_only_loss,
        "use_cpu": not cuda,
        "bf16": bf16,
        "fp16": cuda and not bf16,
        # Memory matters on a GPU with a large model; on CPU models are small and recomputation only costs time.
        "gradient_checkpointing": cuda,
        "report_to": [],
        # Pod logs read better as one line per logging step than as a redrawn progress bar.
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "packing": False,
    }
    if distributed:
        # Every parameter that trains (the LoRA weights) is used in every forward pass: skip DDP's search for unused
        # ones, an extra walk of the autograd graph per step. Reentrant checkpointing cannot run under DDP.
        args["ddp_find_unused_parameters"] = False
        if args["gradient_checkpointing"]:
            args["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    args.update(overrides)
    return SFTConfig(**args)
