"""What a backend provides to the runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kubetune.training.datasets.loading import PreparedDataset


class Backend(Protocol):
    name: str

    def load_tokenizer(self) -> Any:
        """The base model's tokenizer, with the chat template and pad token training will use."""
        ...

    def build_trainer(self, tokenizer: Any, data: PreparedDataset, callbacks: Sequence[Any]) -> Any:
        """Load the model, attach the LoRA adapter, and return a ready ``trl.SFTTrainer``."""
        ...
