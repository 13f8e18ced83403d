"""Current-state rows: one per object, upserted by uid; an older snapshot never overwrites a newer one (whoever writes
it); a deletion sets deleted_at for good; a relist marks rows of vanished objects, within the watched namespaces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from store_rows import next_uid, rows, trainingjob

from kubetune.store import Listing, Mirror, MirrorSettings
from kubetune.store.mirror import apply_listing

pytestmark = pytest.mark.postgres


async def test_newest_snapshot_wins_in_any_order(mirror: Mirror, engine: Engine) -> None:
    uid = next_uid("tj")
    mirror.observe("ADDED", trainingjob("bot", "100", "Pending", uid))
    assert await mirror.flush(10)
    mirror.observe("MODIFIED", trainingjob("bot", "1000", "Running", uid))  # longer: newer (KEP-5504)
    assert await mirror.flush(10)
    mirror.observe("MODIFIED", trainingjob("bot", "999", "Queued", uid))  # a late, older event
    assert await mirror.flush(10)
    assert rows(engine, "select phase, resource_version from training_jobs where uid = :u", u=uid) == [
        ("Running", "1000")]


async def test_a_second_writer_cannot_regress_a_row(mirror: Mirror, engine: Engine) -> None:
    # A resync (or a second operator) holding an older listing writes after the mirror: the row stays.
    uid = next_uid("tj")
    mirror.observe("MODIFIED", trainingjob("bot", "50", "Succeeded", uid, metrics={"trainLoss": 0.4}))
    assert await mirror.flush(10)
    apply_listing(engine, {"TrainingJob": [trainingjob("bot", "40", "Running", uid)]}, datetime.now(UTC))
    assert rows(engine, "select phase, metrics is not null from training_jobs where uid = :u", u=uid) == [
        ("Succeeded", True)]


async def test_opaque_versions_fall_back_to_equality(mirror: Mirror, engine: Engine) -> None:
    uid = next_uid("tj")
    mirror.observe("ADDED", trainingjob("bot", "rv-b", "Pending", uid))
    assert await mirror.flush(10)
    mirror.observe("MODIFIED", trainingjob("bot", "rv-a", "Running", uid))  # cannot be ordered: the later wins
    assert await mirror.flush(10)
    assert rows(engine, "select phase from training_jobs where uid = :u", u=uid) == [("Running",)]


async def test_deleted_keeps_the_row_with_deleted_at(mirror: Mirror, engine: Engine) -> None:
    uid = next_uid("tj")
    mirror.observe(None, trainingjob("bot", "10", "Succeeded", uid))  # kopf's initial listing has no event type
    mirror.observe("DELETED", trainingjob("bot", "11", "Succeeded", uid))
    assert await mirror.flush(10)
    mirror.observe("MODIFIED", trainingjob("bot", "12", "Running", uid))  # cannot bring it back
    assert await mirror.flush(10)
    (phase, version, deleted_at), = rows(
        engine, "select phase, resource_version, deleted_at from training_jobs where uid = :u", u=uid)
    assert deleted_at is not None and phase == "Running" and version == "12"


async def test_other_kinds_and_bodies_without_uid_are_ignored(mirror: Mirror, engine: Engine) -> None:
    mirror.observe("ADDED", {"kind": "Pod", "metadata": {"uid": "p", "name": "p", "resourceVersion": "1"}})
    mirror.observe("ADDED", {"kind": "TrainingJob", "metadata": {"name": "x"}})
    assert await mirror.flush(10)
    assert rows(engine, "select count(*) from training_jobs") == [(0,)]


async def test_relists_mark_vanished_objects_within_scope(migrated: str, engine: Engine) -> None:
    alive, gone, elsewhere = next_uid("alive"), next_uid("gone"), next_uid("other")
    cluster: dict[str, list[dict[str, Any]]] = {"TrainingJob": [
        trainingjob("alive", "5", "Running", alive, namespace="team-a"),
        trainingjob("gone", "6", "Running", gone, namespace="team-a")]}

    async def lister() -> Listing:
        return {kind: list(bodies) for kind, bodies in cluster.items()}

    writer = Mirror(migrated, lister, MirrorSettings(relist_interval=0.3, namespaces=("team-*",)))
    writer.observe("ADDED", trainingjob("other", "7", "Running", elsewhere, namespace="kube-public"))
    await writer.start()
    try:
        assert await writer.flush(10)
        cluster["TrainingJob"] = [trainingjob("alive", "8", "Succeeded", alive, namespace="team-a")]
        relists = writer.stats.relists
        for _ in range(100):
            if writer.stats.relists >= relists + 2:
                break
            await _sleep(0.1)
        assert await writer.flush(10)
    finally:
        await writer.stop()
    state = {uid: (phase, deleted is not None) for uid, phase, deleted in
             rows(engine, "select uid, phase, deleted_at from training_jobs")}
    assert state == {alive: ("Succeeded", False), gone: ("Running", True), elsewhere: ("Running", False)}
    assert writer.stats.tombstoned == 1 and writer.stats.dropped == 0


async def test_a_relist_spares_rows_written_after_it_began(mirror: Mirror, engine: Engine) -> None:
    # An object created after the list was requested is missing from it but alive: its row is newer than the list.
    before = datetime.now(UTC)
    late = next_uid("late")
    mirror.observe("ADDED", trainingjob("late", "9", "Pending", late))
    assert await mirror.flush(10)
    assert apply_listing(engine, {"TrainingJob": []}, before) == {"training_jobs": (0, 0)}
    assert rows(engine, "select deleted_at from training_jobs where uid = :u", u=late) == [(None,)]
    assert apply_listing(engine, {"TrainingJob": []}, datetime.now(UTC)) == {"training_jobs": (0, 1)}
    assert rows(engine, "select deleted_at is not null from training_jobs where uid = :u", u=late) == [(True,)]


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
