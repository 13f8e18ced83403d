"""The Hugging Face backend: transformers loads the model, PEFT adds LoRA, TRL's ``SFTTrainer`` trains. CPU or GPU."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kubetune.api.trainer import TrainerConfig
from kubetune.training.datasets.loading import PreparedDataset
from kubetune.training.distributed import SOLO, Gang
from kubetune.training.errors import ConfigInvalid

from .arguments import sft_config
from .chat import final_turn_only, prepare_tokenizer, supports_assistant_masks

log = logging.getLogger(__name__)


class HuggingFaceBackend:
    name = "huggingface"

    def __init__(self, config: TrainerConfig, *, cuda: bool, gang: Gang = SOLO) -> None:
        self.config = config
        self.cuda = cuda
        self.gang = gang

    def load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.config.base_model.path)
        except (OSError, ValueError) as e:
            raise ConfigInvalid(f"cannot load the tokenizer from {self.config.base_model.path}: {e}") from e
        return prepare_tokenizer(tokenizer)

    def load_model(self) -> Any:
        import torch
        from transformers import AutoModelForCausalLM

        kwargs: dict[str, Any] = {"dtype": torch.float32}
        if self.cuda:
            # Each process holds its own copy of the model on its own GPU (DDP; 0 for a single process).
            kwargs = {"dtype": torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16,
                      "device_map": {"": self.gang.local_rank}}
        if self.config.method == "qlora":
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=kwargs["dtype"],
            )
        try:
            model = AutoModelForCausalLM.from_pretrained(self.config.base_model.path, **kwargs)
        except (OSError, ValueError) as e:
            raise ConfigInvalid(f"cannot load the base model from {self.config.base_model.path}: {e}") from e
        if self.config.method == "qlora":
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
        return model

    def lora_config(self) -> Any:
        from peft import LoraConfig

        lora = self.config.lora
        return LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
            bias="none",
            task_type="CAUSAL_LM",
        )

    def build_trainer(self, tokenizer: Any, data: PreparedDataset, callbacks: Sequence[Any]) -> Any:
        from datasets import Dataset
        from trl import SFTTrainer

        train, validation = data.train, data.validation
        assistant_only = data.kind == "conversational"
        if assistant_only and not supports_assistant_masks(tokenizer):
            log.warning("the chat template cannot mark assistant turns; training on the last assistant turn only")
            train, validation = final_turn_only(train), final_turn_only(validation)
            assistant_only = False
        args = sft_config(self.config, cuda=self.cuda, has_validation=bool(validation),
                          assistant_only_loss=assistant_only, distributed=self.gang.distributed)
        return SFTTrainer(
            model=self.load_model(),
            args=args,
            train_dataset=Dataset.from_list(train),
            eval_dataset=Dataset.from_list(validation) if validation else None,
            processing_class=tokenizer,
            peft_config=self.lora_config(),
            callbacks=list(callbacks),
        )
