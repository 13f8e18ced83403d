"""The writer's bounded buffer: what waits to be written, in arrival order, taken in batches and removed only once
committed. No I/O and no asyncio: the Mirror drives it from one event loop.

Object snapshots are coalesced, one per object: a newer snapshot replaces the one waiting (an older one is ignored), so
the buffer holds at most one row per object however many events arrive while the database is slow or down. History
records (loss-curve points, deployments, samples) are kept one by one. Past ``bound`` records, new ones are dropped and
counted: a snapshot can be recovered by a relist, a history record cannot, so the bound should cover the longest
outage expected.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import islice

from ..kube.versions import is_newer
from .records import HistoryRecord, MetricPoint
from .snapshots import Snapshot

SnapshotKey = tuple[str, str]  # (kind, uid)


@dataclass
class Pending:
    """A record and when it was enqueued (monotonic seconds), for the lag metric."""

    record: Snapshot | HistoryRecord
    enqueued: float


@dataclass
class Batch:
    snapshots: list[tuple[SnapshotKey, Pending, Snapshot]] = field(default_factory=list)
    """(key, its entry, the snapshot the entry held when peeked)."""
    history: list[Pending] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.snapshots) + len(self.history)


class PendingRecords:
    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._snapshots: dict[SnapshotKey, Pending] = {}
        self._history: deque[Pending] = deque()
        self.dropped_snapshots = 0
        self.dropped_history = 0

    def __len__(self) -> int:
        return len(self._snapshots) + len(self._history)

    def add_snapshot(self, snapshot: Snapshot, now: float) -> bool:
        """Queue a snapshot; False when it was dropped (the buffer is full and its object has none waiting)."""
        key = (snapshot.kind, snapshot.uid)
        waiting = self._snapshots.get(key)
        if waiting is None:
            if len(self) >= self.bound:
                self.dropped_snapshots += 1
                return False
            self._snapshots[key] = Pending(snapshot, now)
            return True
        current = _snapshot(waiting)
        # A DELETED event is the last word on an object; otherwise the newer resourceVersion wins. The waiting
        # entry keeps its place in line and its enqueue time (the lag is of the oldest change it carries).
        if current.deleted and not snapshot.deleted:
            return True
        if snapshot.deleted or is_newer(snapshot.resource_version, current.resource_version):
            waiting.record = snapshot
        return True

    def add_history(self, record: HistoryRecord, now: float) -> bool:
        """Queue a history record; False when the buffer is full and it was dropped."""
        if len(self) >= self.bound:
            self.dropped_history += 1
            return False
        self._history.append(Pending(record, now))
        return True

    def peek(self, limit: int) -> Batch:
        """Up to ``limit`` records, oldest first, snapshots before history: snapshots are few (one per object)
        and a history row may refer to the object a snapshot creates."""
        snapshots = [(key, pending, _snapshot(pending)) for key, pending in islice(self._snapshots.items(), limit)]
        history = list(islice(self._history, max(0, limit - len(snapshots))))
        return Batch(snapshots, history)

    def remove(self, batch: Batch) -> None:
        """Forget what ``batch`` wrote. A snapshot replaced while the batch was being written stays: it is newer."""
        for key, pending, written in batch.snapshots:
            if self._snapshots.get(key) is pending and pending.record is written:
                del self._snapshots[key]
        for _ in batch.history:
            self._history.popleft()  # only the writer removes, from the left, what it peeked from the left

    def pending_steps(self, job_uid: str) -> list[int]:
        """Steps of ``job_uid`` waiting to be written."""
        return [p.record.step for p in self._history
                if isinstance(p.record, MetricPoint) and p.record.job_uid == job_uid]


def _snapshot(pending: Pending) -> Snapshot:
    assert isinstance(pending.record, Snapshot)
    return pending.record
