"""Dashboard latency on a seeded mirror: each page and JSON endpoint served by the real application (aiohttp, on a
local port) against a SQLite file or a PostgreSQL database filled by the store's own writer, side by side with the
floor: the same rows read with one plain SQL query on a connection of our own.

    .venv/bin/python bench/dashboard_latency.py [--postgres URL] [--runs 200] [--steps 100000] [--requests 30]

Seeds ``--runs`` training jobs (one of them with a loss curve of ``--steps`` logged steps), their models and a
comparison with 200 samples, then times ``--requests`` sequential GETs of each path (after one warm-up) and prints
p50 / p95 in milliseconds, and the curve endpoint's ratio to the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import create_engine, text

from kubetune.dashboard.app import make_app
from kubetune.dashboard.context import DashboardConfig
from kubetune.store import Mirror
from kubetune.store.database import parse_url

NS = "bench"


def job(i: int, phase: str) -> dict[str, Any]:
    return {"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": f"job-{i}", "namespace": NS, "uid": f"job-{i}", "resourceVersion": str(10 + i),
                         "creationTimestamp": "2026-11-30T10:00:00Z"},
            "spec": {"baseModel": {"name": "base"}, "output": {"modelName": f"model-{i % 20}"}},
            "status": {"phase": phase, "progress": {"step": 50, "totalSteps": 100, "percent": 50.0, "loss": 1.0},
                       "modelRef": {"name": f"model-{i % 20}-v1"} if phase == "Succeeded" else None}}


async def seed(url: str, runs: int, steps: int) -> None:
    mirror = Mirror(url)
    await mirror.start()
    for i in range(runs):
        mirror.observe("ADDED", job(i, "Running" if i % 10 == 0 else "Succeeded"))
    for chunk in range(1, steps + 1, 10_000):  # within the mirror's buffer bound (50,000 records)
        mirror.record_training_metrics("job-1", [{"step": s, "loss": 5.0 / (1 + s / 1000) + (s % 17) / 100,
                                                  "learningRate": 2e-4, "tokensPerSecond": 5000.0,
                                                  **({"evalLoss": 4.0 / (1 + s / 1000)} if s % 500 == 0 else {})}
                                                 for s in range(chunk, min(steps, chunk + 9_999) + 1)])
        assert await mirror.flush(600), "the mirror did not catch up"
    for i in range(20):
        mirror.observe("ADDED", {
            "apiVersion": "kubetune.dev/v1alpha1", "kind": "FineTunedModel",
            "metadata": {"name": f"model-{i}-v1", "namespace": NS, "uid": f"model-{i}", "resourceVersion": "5",
                         "labels": {"kubetune.dev/model-name": f"model-{i}"}},
            "spec": {"servedName": f"model-{i}-v1"},
            "status": {"phase": "Serving", "targets": [{"deployment": "vllm", "readyReplicas": 3, "loadedReplicas": 3,
                                                        "pods": [{"name": f"vllm-{p}", "loaded": True}
                                                                 for p in range(3)]}]}})
    mirror.observe("ADDED", {
        "apiVersion": "kubetune.dev/v1alpha1", "kind": "ModelComparison",
        "metadata": {"name": "cmp", "namespace": NS, "uid": "cmp", "resourceVersion": "7"},
        "spec": {"baseline": {"servedName": "base"}, "candidate": {"fineTunedModelRef": {"name": "model-1-v1"}}},
        "status": {"phase": "Succeeded", "results": {"verdict": "candidate", "winRate": {"candidate": 0.6,
                                                                                        "ci95": [0.5, 0.7]}}}})
    mirror.record_samples("cmp", [{"id": i, "prompt": f"q{i}", "baselineAnswer": "a", "candidateAnswer": "b",
                                   "judge": {"games": [], "inconsistent": i % 7 == 0}} for i in range(200)])
    assert await mirror.flush(600), "the mirror did not catch up"
    await mirror.stop()


def floor(url: str, repeats: int) -> list[float]:
    """The same curve read with one plain query on our own connection: the least any server could take."""
    engine = create_engine(parse_url(url))
    timings = []
    with engine.connect() as connection:
        for _ in range(repeats + 1):
            start = time.perf_counter()
            connection.execute(text("select step, loss, eval_loss, learning_rate, tokens_per_second from "
                                    "training_metrics where job_uid = 'job-1' order by step")).all()
            timings.append(time.perf_counter() - start)
    engine.dispose()
    return timings[1:]


async def measure(url: str, requests: int) -> dict[str, list[float]]:
    app = make_app(DashboardConfig(database_url=url))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    paths = ["/", "/runs", "/runs/job-1", "/api/runs/job-1/curves", "/models", "/models/model-1",
             "/comparisons/cmp", "/api/comparisons/cmp/samples?disagreements=1"]
    timings: dict[str, list[float]] = {}
    async with aiohttp.ClientSession() as session:
        for path in paths:
            for n in range(requests + 1):
                start = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    await response.read()
                    assert response.status == 200, (path, response.status)
                if n:  # the first is a warm-up
                    timings.setdefault(path, []).append(time.perf_counter() - start)
    await runner.cleanup()
    return timings


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL of an empty database (default: a SQLite file)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    url = args.postgres or f"sqlite:///{Path(tempfile.mkdtemp(prefix='kubetune-bench-')) / 'kubetune.db'}"
    started = time.perf_counter()
    asyncio.run(seed(url, args.runs, args.steps))
    print(f"seeded {args.runs} runs, a {args.steps}-step curve, 20 models, 200 samples in "
          f"{time.perf_counter() - started:.1f}s ({url.split(':')[0]})")
    timings = asyncio.run(measure(url, args.requests))
    print(f"{'path':48} {'p50 ms':>8} {'p95 ms':>8}")
    for path, values in timings.items():
        print(f"{path:48} {p(values, 50):8.1f} {p(values, 95):8.1f}")
    base = floor(url, args.requests)
    curve = timings["/api/runs/job-1/curves"]
    print(f"floor: the curve's rows by one plain query: p50 {p(base, 50):.1f} ms; the endpoint (query, down-sampling "
          f"to 2,000 points per series, JSON) is {statistics.median(curve) / statistics.median(base):.2f}x that")
    return 0


if __name__ == "__main__":
    sys.exit(main())
