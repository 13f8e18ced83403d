"""Make LoRA adapters for the tiny model without training: random, non-zero weights, so outputs change at once.

Tests and benchmarks use them to exercise serving (and broken ones: wrong rank, wrong base) in a second.
"""

from __future__ import annotations

import json
from pathlib import Path


def make_adapter(base_dir: Path, out_dir: Path, rank: int = 8, base_name: str = "tiny-llama", seed: int = 0,
                 target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")) -> Path:
    """Write adapter_config.json and adapter_model.safetensors to ``out_dir``; base_model_name_or_path is
    ``base_name``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    # init_lora_weights=False draws B at random too (PEFT zeroes it by default), so the adapter changes outputs.
    config = LoraConfig(r=rank, lora_alpha=rank * 2, target_modules=list(target_modules), init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.mul_(4.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out_dir), safe_serialization=True)
    config_path = out_dir / "adapter_config.json"
    saved = json.loads(config_path.read_text())
    saved["base_model_name_or_path"] = base_name
    config_path.write_text(json.dumps(saved, indent=2))
    return out_dir
