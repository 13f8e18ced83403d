"""A Postgres outage (``pg_ctl stop``, then start) while the operator keeps recording: every history row lands once,
current-state rows catch up through a relist, nothing is dropped; and the writer's Prometheus metrics say so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from store_rows import next_uid, rows, trainingjob

from kubetune.store import Listing, Mirror, MirrorSettings, upgrade
from kubetune.store.database import make_engine
from kubetune_devcluster.postgres import PostgresServer, start_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A server of its own: these tests stop it, which would break the session's other tests."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def wait_until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def test_nothing_is_lost_or_doubled_across_an_outage(own_postgres: PostgresServer) -> None:
    url = own_postgres.create_database("outage")
    upgrade(url)
    finished, vanished, created = next_uid("finished"), next_uid("vanished"), next_uid("created")
    cluster: dict[str, list[dict[str, Any]]] = {"TrainingJob": [
        trainingjob("finished", "10", "Running", finished), trainingjob("vanished", "11", "Running", vanished)]}

    async def lister() -> Listing:
        return {kind: list(bodies) for kind, bodies in cluster.items()}

    dropped_before = sum(metric("kubetune_mirror_rows_dropped_total", reason=r)
                         for r in ("snapshot", "history", "rejected"))
    mirror = Mirror(url, lister, MirrorSettings(relist_interval=0, batch_size=100))
    await mirror.start()
    job, model, comparison = next_uid("job"), next_uid("ftm"), next_uid("mc")
    at = datetime(2026, 5, 1, tzinfo=UTC)

    def activity(steps: range) -> None:
        """What a running operator records: loss-curve points (each fetched twice), loads, samples."""
        points = [{"step": s, "loss": 5.0 - s / 1000, "learningRate": 1e-4} for s in steps]
        mirror.record_training_metrics(job, points)
        mirror.record_training_metrics(job, points[-3:])  # the next fetch starts at the last step: overlap
        for s in steps[::10]:
            mirror.record_deployment(model_uid=model, namespace="ml", model="bot-v1", target="vllm", pod=f"vllm-{s}",
                                     action="load", outcome="succeeded", occurred_at=at + timedelta(seconds=s))
            mirror.record_samples(comparison, [{"index": s, "prompt": f"q{s}", "candidateAnswer": "a"}])

    try:
        for body in cluster["TrainingJob"]:
            mirror.observe("ADDED", body)
        activity(range(0, 200))
        assert await mirror.flush(20)

        own_postgres.shutdown()
        activity(range(200, 600))
        # Meanwhile in the cluster: one job finishes, one is created, one vanishes while no event reaches us.
        cluster["TrainingJob"] = [trainingjob("finished", "20", "Succeeded", finished),
                                  trainingjob("created", "21", "Pending", created)]
        mirror.observe("MODIFIED", trainingjob("finished", "15", "Running", finished))  # a stale one, too
        mirror.observe("ADDED", cluster["TrainingJob"][1])
        await wait_until(lambda: mirror.stats.outages == 1, 30, "the writer never noticed the outage")
        assert metric("kubetune_mirror_database_up") == 0
        assert metric("kubetune_mirror_queue_depth") > 0
        assert not await mirror.flush(2)  # held, not written, not dropped
        await asyncio.sleep(3)  # a few retries with backoff

        relists = mirror.stats.relists
        own_postgres.start()
        assert await mirror.flush(60)
        await wait_until(lambda: mirror.stats.relists > relists, 30, "no relist after the outage")
        assert metric("kubetune_mirror_database_up") == 1 and metric("kubetune_mirror_queue_depth") == 0
    finally:
        await mirror.stop()

    engine = make_engine(url)
    try:
        steps = [r[0] for r in rows(engine, "select step from training_metrics where job_uid = :j order by step",
                                    j=job)]
        assert steps == list(range(600))  # every step, once
        assert rows(engine, "select count(*), count(distinct pod) from deployment_history where model_uid = :m",
                    m=model) == [(60, 60)]
        assert rows(engine, "select count(*) from comparison_samples where comparison_uid = :c", c=comparison) == [
            (60,)]
        state = {uid: (phase, deleted is not None) for uid, phase, deleted in
                 rows(engine, "select uid, phase, deleted_at from training_jobs")}
        assert state == {finished: ("Succeeded", False), created: ("Pending", False), vanished: ("Running", True)}
    finally:
        engine.dispose()
    assert mirror.stats.dropped == 0
    assert sum(metric("kubetune_mirror_rows_dropped_total", reason=r)
               for r in ("snapshot", "history", "rejected")) == dropped_before


async def test_writer_metrics(own_postgres: PostgresServer) -> None:
    url = own_postgres.create_database("metrics")
    written = metric("kubetune_mirror_rows_written_total", table="training_metrics")
    writes = metric("kubetune_mirror_write_seconds_count")
    lagged = metric("kubetune_mirror_lag_seconds_count")
    mirror = Mirror(url, None, MirrorSettings(relist_interval=0))
    mirror.record_training_metrics("job-m", [{"step": s, "loss": 1.0} for s in range(25)])
    assert metric("kubetune_mirror_queue_depth") == 25  # enqueued before the writer started
    await mirror.start()
    assert await mirror.flush(30)
    await mirror.stop()
    assert metric("kubetune_mirror_rows_written_total", table="training_metrics") - written == 25
    assert metric("kubetune_mirror_write_seconds_count") - writes >= 1
    assert metric("kubetune_mirror_lag_seconds_count") - lagged == 25
    assert metric("kubetune_mirror_queue_depth") == 0
    assert mirror.stats.written == 25 and mirror.stats.dropped == 0


def test_a_full_buffer_drops_and_counts() -> None:
    dropped = metric("kubetune_mirror_rows_dropped_total", reason="history")
    mirror = Mirror("sqlite:///unused.db", None, MirrorSettings(queue_bound=10))  # never started: nothing drains
    mirror.record_training_metrics("job-d", [{"step": s} for s in range(12)])
    assert mirror.stats.dropped == 2
    assert metric("kubetune_mirror_rows_dropped_total", reason="history") - dropped == 2
