"""The writer's buffer: snapshots coalesce per object (newest wins, a deletion is final), history is kept one by one,
the bound drops and counts, and a batch leaves only once committed."""

from __future__ import annotations

from datetime import UTC, datetime

from kubetune.store.buffer import PendingRecords
from kubetune.store.records import Deployment, MetricPoint
from kubetune.store.snapshots import Snapshot


def snap(uid: str, version: str, deleted: bool = False) -> Snapshot:
    return Snapshot("TrainingJob", {"metadata": {"uid": uid, "name": uid, "resourceVersion": version}}, deleted)


def test_snapshots_coalesce_to_the_newest() -> None:
    buffer = PendingRecords(bound=10)
    for version in ("5", "7", "6"):  # 6 arrives late: older than 7, ignored
        buffer.add_snapshot(snap("a", version), 0.0)
    buffer.add_snapshot(snap("b", "1"), 0.0)
    assert len(buffer) == 2
    batch = buffer.peek(10)
    assert [(s.uid, s.resource_version) for _, _, s in batch.snapshots] == [("a", "7"), ("b", "1")]


def test_a_deletion_is_final() -> None:
    buffer = PendingRecords(bound=10)
    buffer.add_snapshot(snap("a", "5"), 0.0)
    buffer.add_snapshot(snap("a", "6", deleted=True), 0.0)
    buffer.add_snapshot(snap("a", "9"), 0.0)  # cannot follow a deletion: ignored
    (_, _, pending), = buffer.peek(10).snapshots
    assert pending.deleted and pending.resource_version == "6"


def test_history_is_kept_in_order_and_snapshots_come_first() -> None:
    buffer = PendingRecords(bound=10)
    buffer.add_history(MetricPoint("j", 1, loss=2.0), 0.0)
    buffer.add_history(MetricPoint("j", 1, loss=2.0), 0.0)  # the buffer keeps both; the database dedupes
    buffer.add_snapshot(snap("a", "1"), 0.0)
    batch = buffer.peek(2)
    assert len(batch.snapshots) == 1 and len(batch.history) == 1
    assert buffer.pending_steps("j") == [1, 1]


def test_the_bound_drops_and_counts() -> None:
    buffer = PendingRecords(bound=3)
    assert buffer.add_snapshot(snap("a", "1"), 0.0)
    assert buffer.add_history(MetricPoint("j", 1), 0.0)
    assert buffer.add_history(MetricPoint("j", 2), 0.0)
    assert not buffer.add_history(MetricPoint("j", 3), 0.0)
    assert not buffer.add_snapshot(snap("b", "1"), 0.0)
    assert buffer.add_snapshot(snap("a", "2"), 0.0)  # a newer snapshot of a waiting object takes no room
    assert (buffer.dropped_history, buffer.dropped_snapshots, len(buffer)) == (1, 1, 3)


def test_only_committed_records_leave() -> None:
    buffer = PendingRecords(bound=10)
    buffer.add_snapshot(snap("a", "1"), 0.0)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    buffer.add_history(Deployment("m", "ns", "bot", "vllm", "pod-1", "load", "succeeded", when), 0.0)
    batch = buffer.peek(10)
    buffer.add_snapshot(snap("a", "2"), 0.0)  # arrives while the batch is being written
    buffer.add_history(MetricPoint("j", 1), 0.0)
    buffer.remove(batch)
    left = buffer.peek(10)
    assert [s.resource_version for _, _, s in left.snapshots] == ["2"]  # the newer one is still to be written
    assert [type(p.record).__name__ for p in left.history] == ["MetricPoint"]
