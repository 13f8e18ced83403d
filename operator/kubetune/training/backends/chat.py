"""What training needs from a chat template: a template at all, assistant-only masks, and the turn headers.

Conversational data trains on the assistant turns only. TRL does this with ``assistant_only_loss`` when the template
marks assistant text with ``{% generation %}`` (or when TRL ships a training version of the template). For any other
template, the conversation is cut before its last assistant turn and trained as a conversational prompt-completion
pair: the loss is still on assistant text only, the final turn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kubetune.training.datasets.records import Example
from kubetune.training.errors import ConfigInvalid

log = logging.getLogger(__name__)

# ChatML, with generation markers so that TRL can mask everything but the assistant turns. Used for a base model
# whose tokenizer has no chat template (a pretrained, not instruction-tuned, model).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_USER_PROBE = "kubetune-user-probe"


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Give the tokenizer a pad token and a chat template when it lacks them; returns it."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        log.warning("the base model's tokenizer has no chat template; using ChatML")
        tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def supports_assistant_masks(tokenizer: Any) -> bool:
    """Whether TRL can compute assistant-only masks with this tokenizer's template."""
    from trl.chat_template_utils import get_training_chat_template

    try:
        get_training_chat_template(tokenizer)  # None: usable as is; a string: TRL swaps in its training version
    except ValueError:
        return False
    return True


def final_turn_only(examples: Sequence[Example]) -> list[Example]:
    """Conversations as conversational prompt-completion pairs, split before the last assistant turn."""
    out = []
    for example in examples:
        messages = example["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        out.append({"prompt": messages[:last], "completion": [messages[last]]})
    return out


def turn_markers(tokenizer: Any) -> tuple[str, str]:
    """The text that opens a user turn and an assistant turn (for Unsloth's ``train_on_responses_only``).

    The assistant header is what ``add_generation_prompt`` appends; the user header is the same text with the
    assistant's role name swapped for ``user``, checked against a rendered user turn.
    """
    user = [{"role": "user", "content": _USER_PROBE}]
    bare = tokenizer.apply_chat_template(user, tokenize=False)
    prompted = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    response = prompted[len(bare) :] if prompted.startswith(bare) else ""
    before_user = bare[: bare.find(_USER_PROBE)]
    for role in ("assistant", "model", "gpt", "bot"):
        if role in response:
            instruction = response.replace(role, "user", 1)
            if before_user.endswith(instruction):
                return instruction, response
    raise ConfigInvalid(
        "cannot find the user and assistant turn headers of the base model's chat template, which Unsloth needs to "
        "train on responses only; use backend huggingface"
    )


def as_text(tokenizer: Any, examples: Sequence[Example]) -> list[Example]:
    """Render conversations with the chat template. The template's BOS is dropped: the tokenizer adds it again."""
    bos = tokenizer.bos_token or ""
    out = []
    for example in examples:
        text = tokenizer.apply_chat_template(example["messages"], tokenize=False)
        out.append({"text": text.removeprefix(bos) if bos else text})
    return out
