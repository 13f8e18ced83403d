"""The Unsloth backend: ``FastLanguageModel`` loads the model (4-bit for QLoRA) and attaches LoRA with Unsloth's
kernels; TRL's ``SFTTrainer`` trains, restricted to the responses by ``train_on_responses_only``.

Import this module only where a CUDA device is present: importing ``unsloth`` fails without one. It must also be
imported before transformers and trl, which it patches (``select_backend`` sees to both).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import unsloth  # noqa: F401  # patches transformers, peft and trl on import

from kubetune.api.trainer import TrainerConfig
from kubetune.training.datasets.loading import PreparedDataset
from kubetune.training.errors import ConfigInvalid

from .arguments import sft_config
from .chat import as_text, prepare_tokenizer, turn_markers
from .modules import linear_module_names

log = logging.getLogger(__name__)


class UnslothBackend:
    name = "unsloth"

    def __init__(self, config: TrainerConfig) -> None:
        self.config = config

    def load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            return prepare_tokenizer(AutoTokenizer.from_pretrained(self.config.base_model.path))
        except (OSError, ValueError) as e:
            raise ConfigInvalid(f"cannot load the tokenizer from {self.config.base_model.path}: {e}") from e

    def build_trainer(self, tokenizer: Any, data: PreparedDataset, callbacks: Sequence[Any]) -> Any:
        from datasets import Dataset
        from trl import SFTTrainer
        from unsloth import FastLanguageModel
        from unsloth.chat_templates import train_on_responses_only

        hp, lora = self.config.hyperparameters, self.config.lora
        try:
            model, tokenizer = FastLanguageModel.from_pretrained(
                model_name=self.config.base_model.path,
                max_seq_length=hp.max_seq_length,
                dtype=None,  # bf16 where the GPU supports it, else fp16
                load_in_4bit=self.config.method == "qlora",
            )
        except (OSError, ValueError) as e:
            raise ConfigInvalid(f"cannot load the base model from {self.config.base_model.path}: {e}") from e
        tokenizer = prepare_tokenizer(tokenizer)
        modules = lora.target_modules
        model = FastLanguageModel.get_peft_model(
            model,
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=linear_module_names(model) if modules == "all-linear" else modules,
            bias="none",
            use_gradient_checkpointing="unsloth",
            random_state=hp.seed,
        )
        conversational = data.kind == "conversational"
        train, validation = data.train, data.validation
        if conversational:
            # Unsloth masks on the rendered text, so conversations are rendered with the model's template first.
            train, validation = as_text(tokenizer, train), as_text(tokenizer, validation)
        args = sft_config(
            self.config,
            cuda=True,
            has_validation=bool(validation),
            assistant_only_loss=False,
            gradient_checkpointing=False,  # Unsloth's own checkpointing is on (use_gradient_checkpointing)
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(train),
            eval_dataset=Dataset.from_list(validation) if validation else None,
            processing_class=tokenizer,
            callbacks=list(callbacks),
        )
        if conversational:
            instruction, response = turn_markers(tokenizer)
            trainer = train_on_responses_only(trainer, instruction_part=instruction, response_part=response)
        return trainer
