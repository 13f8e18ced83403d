"""An hf:// base model: the real trainer downloads the tiny model at the revision asked for from a fake Hub
(kubetune_devcluster.fakehub, a test double of huggingface.co, which cannot be reached from here), then trains on it
offline. What the Hub refuses fails for good, naming what to fix; an outage is retried; the token never shows.

The run that trains and the wrong-token run are separate processes, as in a pod (huggingface_hub reads its settings
at import there); the other failures stop before any model loads, so they run the trainer in this process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import constants
from trainer_harness import MEMO, conversation, job_config, trainer_command, trainer_env, write_config, write_jsonl

from kubetune.api.trainer import EXIT_CONFIG_INVALID, EXIT_RETRIABLE, EXIT_SUCCESS, TrainerConfig
from kubetune.training.main import execute
from kubetune_devcluster.fakehub import FakeHub

REPO = "kubetune-tests/tiny-llama"
TOKEN = "hf_fakehubtoken0123456789abcdef"  # what the fake Hub accepts; it must never show in any output


@dataclass
class Hub:
    fake: FakeHub
    commits: dict[str, str]  # revision -> commit


@dataclass
class Run:
    returncode: int
    result: dict[str, Any]
    log: str
    config: dict[str, Any]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[Hub]:
    """A private repo with the tiny model at two revisions: main, and tag v1 (which also ships Flax weights)."""
    root = tmp_path_factory.mktemp("hub")
    fake = FakeHub(token=TOKEN)
    commits = {}
    for revision, extra in (("main", {}), ("v1", {"flax_model.msgpack": b"\0" * 64})):
        tree = root / revision
        shutil.copytree(tiny_model, tree)
        (tree / "README.md").write_text(f"tiny llama at {revision}\n")
        for name, data in extra.items():
            (tree / name).write_bytes(data)
        commits[revision] = fake.publish(REPO, revision, tree, private=True)
    with fake:
        yield Hub(fake, commits)


def hub_config(root: Path, revision: str | None, token: bool) -> dict[str, Any]:
    data = write_jsonl(root / "train.jsonl", [conversation(p, a) for p, a in MEMO])
    hub_ref: dict[str, Any] = {"repoId": REPO}
    if revision is not None:
        hub_ref["revision"] = revision
    if token:
        hub_ref["tokenEnv"] = "HF_TOKEN"
    config = job_config(root, root / "hf" / "base", {"format": "openai", "path": str(data)},
                        hyperparameters={"maxSteps": 10})
    config["baseModel"]["hub"] = hub_ref
    return config


def train_in_a_pod(root: Path, hub: Hub, revision: str | None, token: str | None) -> Run:
    """The trainer in its own process, as in a pod; the image sets HF_HUB_OFFLINE=1, so this run does too."""
    config = hub_config(root, revision, token is not None)
    env = {**trainer_env(), "HF_ENDPOINT": hub.fake.url, "HF_HOME": str(root / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_TOKEN", None)
    if token is not None:
        env["HF_TOKEN"] = token
    done = subprocess.run(trainer_command(write_config(root, config)), env=env, capture_output=True, text=True,
                          timeout=600)
    result = json.loads(Path(config["terminationMessagePath"]).read_text())
    return Run(done.returncode, result, done.stdout + done.stderr, config)


TrainHere = Callable[[Path, Hub, str | None, str | None], Run]


@pytest.fixture
def train_here(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
               caplog: pytest.LogCaptureFixture) -> TrainHere:
    """The trainer in this process, for failures that stop before any model loads."""

    def train(root: Path, hub: Hub, revision: str | None, token: str | None) -> Run:
        monkeypatch.setenv("HF_ENDPOINT", hub.fake.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # the trainer's state at start; restored after
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        if token is None:
            monkeypatch.delenv("HF_TOKEN", raising=False)
        else:
            monkeypatch.setenv("HF_TOKEN", token)
        config = hub_config(root, revision, token is not None)
        with caplog.at_level("DEBUG"):
            code = execute(TrainerConfig.model_validate(config))
        out, err = capfd.readouterr()
        result = json.loads(Path(config["terminationMessagePath"]).read_text())
        return Run(code, result, caplog.text + out + err, config)

    return train


def assert_token_never_shows(run: Run) -> None:
    assert TOKEN not in run.log
    assert TOKEN not in json.dumps(run.result)
    assert TOKEN not in Path(run.config["terminationMessagePath"]).read_text()


def test_downloads_the_revision_asked_for_and_trains_on_it(tmp_path: Path, hub: Hub) -> None:
    hub.fake.requests.clear()
    run = train_in_a_pod(tmp_path, hub, "v1", TOKEN)

    assert run.returncode == EXIT_SUCCESS, run.log[-3000:]
    assert (run.result["phase"], run.result["reason"]) == ("Succeeded", "Completed")
    base = tmp_path / "hf" / "base"
    assert (base / "README.md").read_text() == "tiny llama at v1\n"  # v1, not main
    assert not (base / "flax_model.msgpack").exists()  # weights no PyTorch loader reads are not downloaded
    manifest = json.loads((Path(run.config["output"]["dir"]) / "kubetune-manifest.json").read_text())
    assert manifest["baseModel"] == {"name": "tiny-llama",
                                     "hub": {"repoId": REPO, "revision": "v1", "commit": hub.commits["v1"]}}
    # The revision was resolved once; every file came from that commit; every call carried the token.
    calls = [r for r in hub.fake.requests if not r.path.startswith("/api/agent-harnesses")]
    assert calls[0].path == f"/api/models/{REPO}/revision/v1"
    files = [r.path for r in calls if "/resolve/" in r.path]
    assert files and all(f.startswith(f"/{REPO}/resolve/{hub.commits['v1']}/") for f in files)
    assert all(r.authorization == f"Bearer {TOKEN}" for r in calls)
    assert_token_never_shows(run)


def test_a_wrong_token_is_config_invalid_naming_the_secret_ref(tmp_path: Path, hub: Hub) -> None:
    wrong = "hf_wrongtoken9876543210fedcba"
    run = train_in_a_pod(tmp_path, hub, "main", wrong)

    assert run.returncode == EXIT_CONFIG_INVALID, run.log[-3000:]
    assert run.result["reason"] == "ConfigInvalid"
    message = run.result["message"]
    assert f"hf://{REPO}@main" in message and "spec.baseModel.source.tokenSecretRef" in message
    assert "HTTP 401" in message
    assert wrong not in run.log and wrong not in json.dumps(run.result)
    assert not (tmp_path / "out" / "adapter").exists()


def test_a_private_repo_without_a_token_asks_for_a_token_secret_ref(tmp_path: Path, hub: Hub,
                                                                   train_here: TrainHere) -> None:
    run = train_here(tmp_path, hub, None, None)

    assert run.returncode == EXIT_CONFIG_INVALID, run.log[-3000:]
    message = run.result["message"]
    assert f"hf://{REPO}@main" in message and "no token (set spec.baseModel.source.tokenSecretRef" in message


def test_an_unknown_revision_is_config_invalid_naming_it(tmp_path: Path, hub: Hub, train_here: TrainHere) -> None:
    run = train_here(tmp_path, hub, "v9-missing", TOKEN)

    assert run.returncode == EXIT_CONFIG_INVALID, run.log[-3000:]
    assert run.result["reason"] == "ConfigInvalid"
    message = run.result["message"]
    assert "revision 'v9-missing' does not exist in kubetune-tests/tiny-llama" in message
    assert "@revision of spec.baseModel.source.uri" in message
    assert_token_never_shows(run)


def test_a_hub_outage_is_retried_by_the_next_pod(tmp_path: Path, hub: Hub, train_here: TrainHere) -> None:
    hub.fake.fail_with = 503
    try:
        run = train_here(tmp_path, hub, "main", TOKEN)
    finally:
        hub.fake.fail_with = None

    assert run.returncode == EXIT_RETRIABLE, run.log[-3000:]
    assert run.result["reason"] == "BaseModelUnavailable"
    assert f"cannot download hf://{REPO}@main" in run.result["message"] and "503" in run.result["message"]
    assert_token_never_shows(run)
