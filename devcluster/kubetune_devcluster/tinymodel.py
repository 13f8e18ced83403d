"""Build a tiny random-initialised Llama and a byte-level BPE tokenizer, locally, in seconds.

No model hub is reachable on the test machines, so every test that trains or serves builds its base model here.
The shape is the smallest that vLLM's CPU attention accepts: head_dim must be 32 or 64 (hidden 128 with 2 heads).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kubetune.training.backends.chat import CHATML_TEMPLATE

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Kubernetes runs containers; vLLM serves language models; LoRA adapters are small.",
    "What is the capital of France? The capital of France is Paris.",
    "user assistant system question answer hello world support bot ticket refund order",
    "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\"()[]{}<>-_=+/*",
]


@dataclass(frozen=True)
class TinyModelSpec:
    """The shape of the tiny model. The defaults are what vLLM CPU serves."""

    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 2
    vocab_size: int = 512
    max_position_embeddings: int = 256
    seed: int = 0


def build_tiny_model(target: Path, spec: TinyModelSpec | None = None, served_name: str | None = None) -> Path:
    """Write a tiny Llama and its tokenizer to ``target`` (atomically) and return it.

    ``served_name`` is recorded as ``_name_or_path`` so adapters trained on it name that base.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    spec = spec or TinyModelSpec()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        trainer = trainers.BpeTrainer(
            vocab_size=spec.vocab_size,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok,
            bos_token="<|endoftext|>",
            eos_token="<|im_end|>",
            pad_token="<pad>",
            unk_token="<|endoftext|>",
            model_max_length=spec.max_position_embeddings,
        )
        fast.chat_template = CHATML_TEMPLATE  # with generation markers, for assistant-only loss
        fast.save_pretrained(tmp)

        torch.manual_seed(spec.seed)
        config = LlamaConfig(
            vocab_size=len(fast),
            hidden_size=spec.hidden_size,
            intermediate_size=spec.intermediate_size,
            num_hidden_layers=spec.num_hidden_layers,
            num_attention_heads=spec.num_attention_heads,
            num_key_value_heads=spec.num_key_value_heads,
            max_position_embeddings=spec.max_position_embeddings,
            bos_token_id=fast.bos_token_id,
            eos_token_id=fast.eos_token_id,
            pad_token_id=fast.pad_token_id,
            tie_word_embeddings=False,
        )
        model = LlamaForCausalLM(config)
        if served_name:
            model.config._name_or_path = served_name
        model.save_pretrained(tmp, safe_serialization=True)
        if served_name:
            cfg_path = tmp / "config.json"
            cfg = json.loads(cfg_path.read_text())
            cfg["_name_or_path"] = served_name
            cfg_path.write_text(json.dumps(cfg, indent=2))
        tmp.chmod(0o755)  # mkdtemp makes it 0700; pods may read it as another user
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def cached_tiny_model(cache_dir: Path, spec: TinyModelSpec | None = None) -> Path:
    """Return a tiny model under ``cache_dir``, building it once per shape."""
    spec = spec or TinyModelSpec()
    key = f"tiny-llama-h{spec.hidden_size}-l{spec.num_hidden_layers}-v{spec.vocab_size}-s{spec.seed}"
    path = Path(cache_dir) / key
    if not (path / "config.json").exists() or not (path / "tokenizer.json").exists():
        build_tiny_model(path, spec)
    return path


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Build a tiny Llama model and tokenizer for tests and demos.")
    parser.add_argument("target", type=Path)
    parser.add_argument("--served-name", default=None)
    args = parser.parse_args()
    print(build_tiny_model(args.target, served_name=args.served_name))


if __name__ == "__main__":
    main()
