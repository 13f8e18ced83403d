"""History rows have natural keys: recording the same step, load or sample again (a replay after an outage, an
operator that fetched again after a restart) adds nothing; a step seen first without its evaluation is completed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from store_rows import next_uid, rows

from kubetune.api.trainer import HistoryPoint
from kubetune.store import Mirror, MirrorSettings

pytestmark = pytest.mark.postgres


async def test_training_steps_replayed_add_nothing(migrated: str, mirror: Mirror, engine: Engine) -> None:
    job = next_uid("job")
    first = [HistoryPoint(step=s, epoch=s / 100, loss=3 - s / 100, learning_rate=1e-4, time="2026-01-01T00:00:01.5Z")
             for s in range(5, 35, 5)]
    mirror.record_training_metrics(job, first)
    mirror.record_training_metrics(job, [first[-1], HistoryPoint(step=30, eval_loss=2.5)])  # one batch, same step
    assert await mirror.flush(10)
    assert await mirror.last_training_step(job) == 30

    # "The operator restarted": a new mirror on the same database fetches from the last step, inclusive.
    again = Mirror(migrated, None, MirrorSettings(relist_interval=0))
    await again.start()
    since = await again.last_training_step(job)
    assert since == 30
    again.record_training_metrics(job, [p.model_dump(by_alias=True) for p in first if p.step >= since])
    again.record_training_metrics(job, [{"step": 35, "loss": 2.6, "evalLoss": 2.4}])
    await again.stop()

    got = rows(engine, "select step, loss, eval_loss, logged_at from training_metrics where job_uid = :j order by step",
               j=job)
    assert [r[0] for r in got] == [5, 10, 15, 20, 25, 30, 35]
    assert got[5][1:3] == (2.7, 2.5)  # the loss of the first read, the evaluation that completed it
    assert got[0][3] is not None


async def test_deployments_and_samples_replayed_add_nothing(mirror: Mirror, engine: Engine) -> None:
    model, comparison = next_uid("ftm"), next_uid("mc")
    at = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    for _ in range(2):
        for pod in ("vllm-0", "vllm-1"):
            mirror.record_deployment(model_uid=model, namespace="ml", model="bot-v1", served_name="bot-v1",
                                     target="vllm", pod=pod, action="load", outcome="succeeded", latency_ms=85.0,
                                     occurred_at=at)
        mirror.record_deployment(model_uid=model, namespace="ml", model="bot-v1", target="vllm", pod="vllm-1",
                                 action="unload", outcome="failed", message="vLLM unreachable",
                                 occurred_at=at + timedelta(minutes=5))
        mirror.record_samples(comparison, [
            {"index": i, "prompt": f"q{i}", "reference": "a", "baseline": {"answer": "b", "latencyMs": 12.0},
             "candidate": {"answer": "a\x00", "latencyMs": 10.0}, "judge": {"verdicts": ["candidate", "tie"]},
             "metrics": {"baseline": {"exactMatch": 0}, "candidate": {"exactMatch": 1}}}
            for i in range(3)])
    assert await mirror.flush(10)
    assert rows(engine, "select pod, action, outcome, latency_ms from deployment_history where model_uid = :m "
                        "order by pod, action", m=model) == [
        ("vllm-0", "load", "succeeded", 85.0), ("vllm-1", "load", "succeeded", 85.0),
        ("vllm-1", "unload", "failed", None)]
    samples = rows(engine, "select sample_index, baseline_answer, candidate_answer, judge, metrics "
                           "from comparison_samples where comparison_uid = :c order by sample_index", c=comparison)
    assert [s[0] for s in samples] == [0, 1, 2]
    _, baseline, candidate, judge, metrics = samples[0]
    assert (baseline, candidate) == ("b", "a")  # the NUL Postgres refuses is dropped
    assert _json(judge) == {"verdicts": ["candidate", "tie"]}
    assert _json(metrics)["candidate"] == {"exactMatch": 1}


async def test_a_sample_without_index_is_refused_at_once(mirror: Mirror) -> None:
    with pytest.raises(ValueError, match="index"):
        mirror.record_samples("mc", [{"prompt": "q"}])


def _json(value: object) -> object:
    import json

    return json.loads(value) if isinstance(value, str) else value
