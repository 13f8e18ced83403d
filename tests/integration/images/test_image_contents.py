"""What the built images hold, proven by running them: the operator image's entrypoint answers `--help` as its
non-root user under a read-only root, without torch; the CPU trainer image trains the tiny model with no network.

The images are built by `make images` (minutes, not part of `make test`); each test runs only when its image is in
the local store. They run without a container runtime (kubetune_devcluster.images: buildah mount, unshare, chroot).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kubetune_devcluster import images

REPO = Path(__file__).resolve().parents[3]
VERSION = "0.1.0"
OPERATOR = f"ghcr.io/kubetune/operator:{VERSION}"
TRAINER_CPU = f"ghcr.io/kubetune/trainer:{VERSION}-cpu"


def needs(image: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not images.image_exists(image), reason=f"{image} is not built (make images)")


@needs(OPERATOR)
def test_operator_image_runs_its_entrypoint_as_non_root_read_only() -> None:
    config = images.ImageConfig.of(OPERATOR)
    assert config.entrypoint == ["kubetune"] and config.user == "65532:65532"
    top = images.run_in_image(OPERATOR, ["--help"])
    assert top.returncode == 0, top.stderr
    assert "operator" in top.stdout and "crds" in top.stdout
    # `kubetune operator --help` imports kopf and builds the operator's parser: the image's own site-packages.
    operator = images.run_in_image(OPERATOR, ["operator", "--help"])
    assert operator.returncode == 0, operator.stderr
    assert "--liveness" in operator.stdout and "--all-namespaces" in operator.stdout


@needs(OPERATOR)
def test_operator_image_is_small_and_has_no_torch() -> None:
    probe = images.run_in_image(OPERATOR, command=[
        "python3", "-c", "import importlib.util as u, sys; print(u.find_spec('torch'), sys.prefix)"])
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["None", "/opt/kubetune"]
    written = images.run_in_image(OPERATOR, command=["sh", "-c", "touch /opt/kubetune/x"])
    assert written.returncode != 0 and "Read-only file system" in written.stderr
    # The base (Python and its libraries) is most of it; kubetune and kopf add about 75 MB.
    assert images.image_size(OPERATOR) < 350 * 10**6


def trainer_harness() -> ModuleType:
    path = REPO / "tests" / "integration" / "training" / "trainer_harness.py"
    spec = importlib.util.spec_from_file_location("trainer_harness", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@needs(TRAINER_CPU)
def test_cpu_trainer_image_trains_the_tiny_model_offline(tmp_path: Path, tiny_model: Path) -> None:
    harness = trainer_harness()
    work = tmp_path / "work"
    shutil.copytree(tiny_model, work / "model")
    inside = Path("/tmp/work")
    rows = [harness.conversation(p, a) for p, a in harness.MEMO] * 2
    harness.write_jsonl(work / "data" / "train.jsonl", rows)
    config = harness.job_config(inside, inside / "model",
                                {"format": "openai", "path": str(inside / "data" / "train.jsonl"),
                                 "validationSplit": 0.25},
                                hyperparameters={"maxSteps": 30}, checkpoint={"everySteps": 15, "keep": 1})
    (work / "job.json").write_text(json.dumps(config))
    for path in [work, *work.rglob("*")]:  # the image's user (1000) writes the adapter and checkpoints here
        os.chmod(path, 0o777 if path.is_dir() else 0o666)

    # The image's entrypoint (python -m kubetune.training) with only the config, as a training pod runs it.
    run = images.run_in_image(TRAINER_CPU, ["--config", str(inside / "job.json")],
                              binds={work: str(inside)}, env={"OMP_NUM_THREADS": "2"}, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    result = json.loads((work / "termination-log").read_text())
    assert (result["phase"], result["reason"]) == ("Succeeded", "Completed")
    assert result["metrics"]["steps"] == 30
    adapter = work / "out" / "adapter"
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in adapter.iterdir()}
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 8
    [checkpoint] = (work / "out" / "checkpoints").glob("checkpoint-*")
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) >= 2 and losses[-1] < losses[0], f"the loss falls inside the image too: {losses}"
