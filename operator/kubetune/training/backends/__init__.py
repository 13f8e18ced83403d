"""Training backends: each loads the base model and tokenizer and builds a TRL ``SFTTrainer`` with a LoRA adapter.

- ``huggingface``: transformers + PEFT + TRL; CPU or GPU; QLoRA through bitsandbytes on a GPU only;
- ``unsloth``: Unsloth's ``FastLanguageModel``; imported only where a CUDA device is present;
- ``auto``: Unsloth when there is a CUDA device and Unsloth is installed and the run is a single process, else
  Hugging Face (the backend that trains with DDP under torchrun).

``chat`` holds what both need from the chat template; ``modules`` which layers ``all-linear`` adapts; ``arguments``
turns the job's hyperparameters into an ``SFTConfig``. The runner, not the backend, owns checkpoints, progress and
output.
"""

from __future__ import annotations

import importlib.util
import logging

from kubetune.api.trainer import TrainerConfig
from kubetune.training.distributed import SOLO, Gang
from kubetune.training.errors import ConfigInvalid

from .base import Backend

log = logging.getLogger(__name__)


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def select_backend(config: TrainerConfig, gang: Gang = SOLO) -> Backend:
    """The backend for this pod, or ``ConfigInvalid`` when the job asks for what the pod cannot do."""
    cuda = cuda_available()
    if config.method == "qlora" and not cuda:
        raise ConfigInvalid("method qlora needs a CUDA GPU (4-bit bitsandbytes kernels); this pod has none: "
                            "request a GPU or use method lora")
    name = config.backend
    if name == "auto":
        name = "unsloth" if cuda and unsloth_installed() and not gang.distributed else "huggingface"
    if name == "unsloth" and gang.distributed:
        # The API server refuses this (resources.nodes and processesPerNode); a hand-written config is refused here.
        raise ConfigInvalid(f"backend unsloth trains in one process on one GPU, and this run has {gang.world_size}: "
                            "use backend huggingface or auto")
    if name == "unsloth":
        if not cuda:
            raise ConfigInvalid("backend unsloth needs a CUDA GPU; this pod has none: request a GPU or use backend "
                                "huggingface")
        if not unsloth_installed():
            raise ConfigInvalid("backend unsloth is not installed in this image: use the GPU trainer image or "
                                "backend huggingface")
        from .unsloth import UnslothBackend  # imports unsloth, which must come before transformers and trl

        log.info("backend: unsloth (CUDA)")
        return UnslothBackend(config)
    from .huggingface import HuggingFaceBackend

    log.info("backend: huggingface (%s%s)", "CUDA" if cuda else "CPU",
             f", DDP over {gang.world_size} processes" if gang.distributed else "")
    return HuggingFaceBackend(config, cuda=cuda, gang=gang)
