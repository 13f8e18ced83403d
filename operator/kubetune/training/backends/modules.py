"""Which modules a LoRA adapts."""

from __future__ import annotations

from typing import Any


def linear_module_names(model: Any) -> list[str]:
    """Names of the linear layers to adapt for ``all-linear``: every ``nn.Linear`` but the output head."""
    import torch

    output = model.get_output_embeddings()
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module is not output
    }
    return sorted(names)
