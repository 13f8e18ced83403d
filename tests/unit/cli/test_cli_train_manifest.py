"""kubetune train: the TrainingJob read from a manifest or built from flags, and the dataset's ConfigMap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.cli import build_parser, main
from kubetune.cli.errors import EXIT_USAGE, UsageError
from kubetune.cli.train import prepare
from kubetune.cli.trainingjob_manifest import CONFIGMAP_DATA_MAX_BYTES, dataset_configmap, load_manifest

REPO = Path(__file__).resolve().parents[3]
ROW = json.dumps({"messages": [{"role": "user", "content": "What colour is the sky?"},
                               {"role": "assistant", "content": "The sky is blue."}]})


def parse(*argv: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(["train", *argv])


def test_the_demo_manifest_is_read_and_checked() -> None:
    manifest, configmap = prepare(parse("-f", str(REPO / "examples/demo/03-trainingjob.yaml")))
    assert manifest["metadata"]["name"] == "support-bot" and configmap is None
    renamed, _ = prepare(parse("-f", str(REPO / "examples/demo/03-trainingjob.yaml"), "--name", "support-bot-2"))
    assert renamed["metadata"]["name"] == "support-bot-2"


def test_flags_build_a_job_whose_dataset_is_a_configmap(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(ROW + "\n" + ROW + "\n")
    manifest, configmap = prepare(parse(
        "--name", "sky", "--base-model", "tiny-llama", "--base-model-pvc", "models/tiny-llama", "--dataset", str(data),
        "--max-steps", "60", "--learning-rate", "0.005", "--lora-r", "8", "--target-modules", "q_proj,v_proj",
        "--gpus", "0", "--serve", "vllm", "--serve", "vllm-big:8001"))
    spec = manifest["spec"]
    assert spec["baseModel"] == {"name": "tiny-llama", "source": {"pvc": {"claimName": "models",
                                                                          "path": "tiny-llama"}}}
    assert spec["dataset"]["source"] == {"configMap": {"name": "sky-dataset", "key": "dataset.jsonl"}}
    assert spec["output"] == {"modelName": "sky", "storage": {"pvc": {"claimName": "adapters"}}}
    assert spec["hyperparameters"] == {"maxSteps": 60, "learningRate": 0.005}
    assert spec["lora"] == {"r": 8, "targetModules": ["q_proj", "v_proj"]}
    assert spec["serving"]["targets"] == [{"deployment": "vllm", "port": 8000},
                                          {"deployment": "vllm-big", "port": 8001}]
    assert configmap is not None and configmap["data"]["dataset.jsonl"] == data.read_text()


def test_a_hub_model_defaults_to_an_hf_uri(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(ROW + "\n")
    manifest, _ = prepare(parse("--name", "x", "--base-model", "google/gemma-3-12b-it", "--dataset", str(data)))
    assert manifest["spec"]["baseModel"]["source"] == {"uri": "hf://google/gemma-3-12b-it"}


def test_a_dataset_over_a_configmaps_size_is_refused_naming_the_other_sources(tmp_path: Path) -> None:
    data = tmp_path / "big.jsonl"
    with data.open("w") as out:
        while out.tell() <= CONFIGMAP_DATA_MAX_BYTES:
            out.write(ROW + "\n")
    with pytest.raises(UsageError) as caught:
        dataset_configmap("big", data)
    message = str(caught.value)
    assert "a ConfigMap holds at most 1 MiB" in message
    for source in ("spec.dataset.source.pvc", "spec.dataset.source.uri", "spec.dataset.source.postgres"):
        assert source in message


def test_the_cli_refuses_it_on_one_line_before_touching_a_cluster(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "big.jsonl"
    data.write_bytes(b"x" * (CONFIGMAP_DATA_MAX_BYTES + 1))
    code = main(["train", "--name", "big", "--base-model", "m", "--dataset", str(data),
                 "--kubeconfig", str(tmp_path / "no-cluster-needed")])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"kubetune: --dataset {data} is 1.0 MiB")


@pytest.mark.parametrize(("text", "message"), [
    ("kind: Deployment\nmetadata: {name: x}\n", "must hold exactly one TrainingJob; it holds Deployment"),
    ("kind: TrainingJob\n  bad: [\n", "is not valid YAML"),
])
def test_manifests_that_are_not_one_trainingjob(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_manifest(str(path))


def test_an_invalid_field_is_named_before_anything_is_created(tmp_path: Path) -> None:
    manifest = (REPO / "examples/demo/03-trainingjob.yaml").read_text().replace("r: 8,", "r: 999,")
    path = tmp_path / "job.yaml"
    path.write_text(manifest)
    with pytest.raises(UsageError, match=r"invalid TrainingJob: spec\.lora\.r: Input should be less than or equal"):
        prepare(parse("-f", str(path)))


def test_missing_flags_say_which(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="give -f FILE, or build the job from flags: --base-model, --dataset missing"):
        prepare(parse("--name", "x"))


def test_dry_run_prints_the_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(ROW + "\n")
    assert main(["train", "--name", "sky", "--base-model", "m", "--dataset", str(data), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "kind: ConfigMap" in out and "kind: TrainingJob" in out and "name: sky-dataset" in out
