"""Only complete checkpoints of the same run are resumed from; rotation keeps the newest K valid ones."""

from __future__ import annotations

from pathlib import Path

from kubetune.training.checkpoints import MARKER, REQUIRED, CheckpointStore


def save(root: Path, step: int, files: tuple[str, ...] = REQUIRED) -> Path:
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name in files:
        (path / name).write_bytes(b"x" * (step + len(name)))
    return path


def test_marked_checkpoints_are_valid_and_newest_wins(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "fp", keep=5)
    for step in (10, 20, 30):
        save(tmp_path, step)
        assert store.mark(step) is not None
    assert [c.step for c in store.all()] == [10, 20, 30]
    newest = store.newest_valid()
    assert newest is not None and newest.step == 30


def test_partial_checkpoints_are_skipped_and_removed_before_resuming(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "fp", keep=5)
    save(tmp_path, 10)
    store.mark(10)
    save(tmp_path, 20)  # killed before the marker: never marked
    save(tmp_path, 30, files=REQUIRED[:2])  # killed mid-save: files missing
    assert store.mark(30) is None  # refuses to mark an incomplete checkpoint
    truncated = save(tmp_path, 40)
    store.mark(40)
    (truncated / "optimizer.pt").write_bytes(b"")  # a file shorter than the marker recorded
    resume = store.prepare_resume()
    assert resume is not None and resume.step == 10
    assert [c.step for c in store.all()] == [10]


def test_checkpoints_of_another_run_are_not_resumed(tmp_path: Path) -> None:
    save(tmp_path, 10)
    CheckpointStore(tmp_path, "dataset-v1", keep=2).mark(10)
    other = CheckpointStore(tmp_path, "dataset-v2", keep=2)
    assert other.newest_valid() is None
    assert other.prepare_resume() is None and other.all() == []


def test_prune_keeps_the_newest_valid(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "fp", keep=2)
    for step in (10, 20, 30, 40):
        save(tmp_path, step)
        if step != 30:
            store.mark(step)
    store.prune()
    assert [c.step for c in store.all()] == [20, 40]
    assert (tmp_path / "checkpoint-40" / MARKER).is_file()


def test_missing_root_has_no_checkpoints(tmp_path: Path) -> None:
    assert CheckpointStore(tmp_path / "absent", "fp", keep=1).prepare_resume() is None
