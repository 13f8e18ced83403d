"""A real training run on CPU with the tiny model: the loss falls, progress is live, and the adapter is complete,
loads in PEFT, and changes what the model says."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from trainer_harness import BASE_NAME, MEMO, TrainedRun, conversation

from kubetune.api.trainer import TrainerResult


def test_run_succeeds_with_a_complete_result(trained: TrainedRun) -> None:
    assert trained.returncode == 0, trained.log[-3000:]
    raw = Path(trained.config["terminationMessagePath"]).read_bytes()
    assert len(raw) < 4096
    result = TrainerResult.model_validate_json(raw)
    assert (result.phase, result.reason, result.resumed_from_step, result.errors) == ("Succeeded", "Completed", None,
                                                                                      [])
    assert result.metrics is not None and result.metrics.steps == 60
    assert result.metrics.train_loss is not None and result.metrics.eval_loss is not None
    assert result.metrics.tokens_per_second and result.metrics.tokens_per_second > 0
    stats = result.dataset_stats
    assert stats is not None and (stats.examples, stats.rejected) == (16, 0)
    assert stats.train_examples + stats.validation_examples == 16 and stats.validation_examples >= 1
    assert stats.tokens and stats.tokens > 0 and stats.sha256 and len(stats.sha256) == 64
    assert result.adapter is not None and result.adapter.path == str(trained.adapter)
    assert (result.adapter.rank, result.adapter.alpha) == (8, 16)


def test_adapter_directory_and_manifest(trained: TrainedRun) -> None:
    adapter = trained.adapter
    result = trained.result
    weights = adapter / "adapter_model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == result["adapter"]["sha256"]
    assert weights.stat().st_size == result["adapter"]["sizeBytes"]
    adapter_config = json.loads((adapter / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == BASE_NAME
    assert (adapter_config["r"], adapter_config["lora_alpha"]) == (8, 16)
    manifest = json.loads((adapter / "kubetune-manifest.json").read_text())
    assert manifest["baseModel"] == {"name": BASE_NAME}
    assert manifest["dataset"]["sha256"] == result["datasetStats"]["sha256"]
    assert manifest["hyperparameters"]["maxSteps"] == 60 and manifest["backend"] == "huggingface"
    assert manifest["metrics"]["steps"] == 60
    on_disk = {p.name for p in adapter.iterdir()} - {"kubetune-manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((adapter / name).read_bytes()).hexdigest() == entry["sha256"], name
    # Atomic write: no staging directory is left beside the adapter.
    assert [p.name for p in adapter.parent.iterdir() if p.name.startswith(".")] == []


def test_loss_falls_and_checkpoints_rotate(trained: TrainedRun) -> None:
    checkpoints = sorted((trained.adapter.parent / "checkpoints").glob("checkpoint-*"))
    assert [c.name for c in checkpoints] == ["checkpoint-40", "checkpoint-60"]  # every 20 steps, keep 2
    state = json.loads((checkpoints[-1] / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(losses) >= 10
    assert losses[-1] < 0.8 * losses[0], losses  # about 6.2 -> 4.1 on the random tiny model
    evals = [entry["eval_loss"] for entry in state["log_history"] if "eval_loss" in entry]
    assert evals and evals[-1] < evals[0]


def test_progress_was_served_while_training(trained: TrainedRun) -> None:
    training = [p for p in trained.progress if p["phase"] == "Training" and 0 < p["step"] < 60]
    assert training, trained.progress[-3:]
    sample = training[-1]
    assert sample["totalSteps"] == 60
    assert 0 < sample["percent"] < 100 and sample["etaSeconds"] is not None
    assert sample["loss"] is not None and sample["learningRate"] == pytest.approx(0.01)
    assert sample["tokensPerSecond"] > 0
    steps = [p["step"] for p in trained.progress]
    assert steps == sorted(steps)  # progress only moves forward


def _assistant_nll(model: torch.nn.Module, tokenizer, rows: list[dict]) -> float:  # type: ignore[no-untyped-def]
    """Mean negative log-likelihood of the assistant answers, given their prompts."""
    total, count = 0.0, 0
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["messages"][:-1], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(row["messages"], tokenize=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([tokenizer(full, add_special_tokens=False)["input_ids"]])
        labels = ids.clone()
        labels[0, : len(prompt_ids)] = -100
        with torch.no_grad():
            loss = model(input_ids=ids, labels=labels).loss
        total += float(loss)
        count += 1
    return total / count


def test_adapter_loads_in_peft_and_changes_the_output(trained: TrainedRun, tiny_model: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained.adapter)
    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    rows = [conversation(p, a) for p, a in MEMO]
    base_nll = _assistant_nll(base, tokenizer, rows)
    prompt = tokenizer.apply_chat_template(rows[0]["messages"][:-1], tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    base_out = base.generate(**inputs, max_new_tokens=8, do_sample=False)

    tuned = PeftModel.from_pretrained(base, trained.adapter).eval()
    tuned_nll = _assistant_nll(tuned, tokenizer, rows)
    tuned_out = tuned.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert tuned_nll < 0.85 * base_nll, (base_nll, tuned_nll)
    assert not torch.equal(base_out, tuned_out)


def test_the_held_out_split_is_kept_beside_the_adapter(trained: TrainedRun) -> None:
    split = trained.result["validationSplit"]
    path = Path(split["path"])
    assert path == trained.adapter.parent / "validation.jsonl"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == split["sha256"]
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == split["examples"] == trained.result["datasetStats"]["validationExamples"]
    assert all(row in [conversation(p, a) for p, a in MEMO] + [conversation(p.upper(), a) for p, a in MEMO]
               for row in rows)
    assert json.loads((trained.adapter / "kubetune-manifest.json").read_text())["validationSplit"] == split
