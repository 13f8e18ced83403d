"""What the backends read from a chat template and a model, checked on CPU with real templates (the tiny model's
ChatML, and the Gemma 3, Llama 3 and Qwen 2.5 templates TRL ships). The Unsloth backend uses these on a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import trl
from transformers import AutoModelForCausalLM, AutoTokenizer

from kubetune.api.trainer import TrainerConfig
from kubetune.training.backends import select_backend
from kubetune.training.backends.chat import (
    as_text,
    final_turn_only,
    prepare_tokenizer,
    supports_assistant_masks,
    turn_markers,
)
from kubetune.training.backends.modules import linear_module_names
from kubetune.training.errors import ConfigInvalid

TEMPLATES = Path(trl.__file__).parent / "chat_templates"


@pytest.fixture
def tokenizer(tiny_model: Path):  # type: ignore[no-untyped-def]
    return prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model))


@pytest.mark.parametrize(
    ("template", "user", "assistant"),
    [
        (None, "<|im_start|>user\n", "<|im_start|>assistant\n"),
        ("gemma3.jinja", "<start_of_turn>user\n", "<start_of_turn>model\n"),
        ("llama3.jinja", "<|start_header_id|>user<|end_header_id|>\n\n",
         "<|start_header_id|>assistant<|end_header_id|>\n\n"),
        ("qwen2_5.jinja", "<|im_start|>user\n", "<|im_start|>assistant\n"),
    ],
)
def test_turn_markers_are_read_from_the_template(tokenizer, template: str | None, user: str,  # type: ignore[no-untyped-def]
                                                 assistant: str) -> None:
    if template:
        tokenizer.chat_template = (TEMPLATES / template).read_text()
    assert turn_markers(tokenizer) == (user, assistant)


def test_template_without_turn_headers_is_config_invalid(tokenizer) -> None:  # type: ignore[no-untyped-def]
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    with pytest.raises(ConfigInvalid, match="use backend huggingface"):
        turn_markers(tokenizer)


def test_assistant_masks_need_generation_markers_or_a_known_template(tokenizer) -> None:  # type: ignore[no-untyped-def]
    assert supports_assistant_masks(tokenizer)  # the tiny model's template has {% generation %}
    tokenizer.chat_template = (TEMPLATES / "gemma3.jinja").read_text()
    assert supports_assistant_masks(tokenizer)  # TRL ships a training version
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    assert not supports_assistant_masks(tokenizer)


def test_tokenizer_without_template_gets_chatml(tiny_model: Path) -> None:
    raw = AutoTokenizer.from_pretrained(tiny_model)
    raw.chat_template = None
    prepared = prepare_tokenizer(raw)
    assert "{% generation %}" in prepared.chat_template and prepared.pad_token is not None


def test_final_turn_only_keeps_the_conversation_as_prompt() -> None:
    conversation = {"messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}, {"role": "user", "content": "e"},
    ]}
    (pair,) = final_turn_only([conversation])
    assert pair["prompt"] == conversation["messages"][:3]
    assert pair["completion"] == [{"role": "assistant", "content": "d"}]


def test_as_text_renders_with_the_template(tokenizer) -> None:  # type: ignore[no-untyped-def]
    (row,) = as_text(tokenizer, [{"messages": [{"role": "user", "content": "q"},
                                               {"role": "assistant", "content": "a"}]}])
    assert row == {"text": "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n"}


def test_all_linear_means_every_projection_but_the_head(tiny_model: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert linear_module_names(model) == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj",
                                          "v_proj"]


def test_auto_picks_huggingface_without_cuda(tmp_path: Path) -> None:
    config = TrainerConfig.model_validate({
        "job": {"name": "j"}, "baseModel": {"name": "b", "path": str(tmp_path)},
        "dataset": {"path": str(tmp_path / "d.jsonl")}, "output": {"dir": "o", "checkpointsDir": "c"},
    })
    assert select_backend(config).name == "huggingface"
    with pytest.raises(ConfigInvalid, match="qlora needs a CUDA GPU"):
        select_backend(config.model_copy(update={"method": "qlora"}))
    with pytest.raises(ConfigInvalid, match="backend unsloth needs a CUDA GPU"):
        select_backend(config.model_copy(update={"backend": "unsloth"}))
