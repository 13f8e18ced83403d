"""What the trainer reads from torchrun (its place in the run), the backend it picks for several processes, and the
exit code kubetune's torchrun wrapper reports for a worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.api.trainer import TrainerConfig
from kubetune.training.backends import select_backend
from kubetune.training.distributed import SOLO, Gang, gang_from_env
from kubetune.training.errors import ConfigInvalid
from kubetune.training.torchrun import exit_code


def config(tmp_path: Path, backend: str) -> TrainerConfig:
    return TrainerConfig.model_validate({
        "job": {"name": "memo"}, "baseModel": {"name": "tiny", "path": str(tmp_path)},
        "dataset": {"path": str(tmp_path / "rows.jsonl")}, "backend": backend,
        "output": {"dir": str(tmp_path / "adapter"), "checkpointsDir": str(tmp_path / "checkpoints")}})


def test_without_torchrun_the_trainer_runs_alone() -> None:
    assert gang_from_env({}) is SOLO
    assert gang_from_env({"WORLD_SIZE": "1", "RANK": "0"}) is SOLO
    assert not SOLO.distributed and SOLO.is_main


def test_torchrun_variables_place_the_process() -> None:
    gang = gang_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert gang == Gang(rank=3, local_rank=1, world_size=4, local_world_size=2)
    assert gang.distributed and not gang.is_main and gang.nodes == 2


def test_incomplete_torchrun_variables_are_named() -> None:
    with pytest.raises(RuntimeError, match="RANK, LOCAL_RANK and WORLD_SIZE"):
        gang_from_env({"WORLD_SIZE": "2"})


def test_auto_trains_with_huggingface_under_ddp(tmp_path: Path) -> None:
    backend = select_backend(config(tmp_path, "auto"), Gang(rank=1, world_size=2, local_rank=1, local_world_size=2))
    assert backend.name == "huggingface"


def test_unsloth_is_refused_for_several_processes(tmp_path: Path) -> None:
    # The API server refuses such a spec; a config written by hand meets the same answer in the pod.
    with pytest.raises(ConfigInvalid, match="backend unsloth trains in one process on one GPU, and this run has 2"):
        select_backend(config(tmp_path, "unsloth"), Gang(rank=0, world_size=2, local_world_size=2))


@pytest.mark.parametrize(("worker", "pod"), [(0, 0), (3, 3), (4, 4), (5, 5), (-9, 137), (-15, 143)])
def test_the_first_failed_workers_code_is_the_pods(worker: int, pod: int) -> None:
    assert exit_code(worker) == pod
