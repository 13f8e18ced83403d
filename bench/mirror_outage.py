"""Benchmark: a PostgreSQL outage while the operator keeps working. Rows lost (goal 0) and the time to catch up.

    .venv/bin/python bench/mirror_outage.py [--outage 300] [--no-docs]

It starts the local control plane (no node), installs the CRDs and starts a private PostgreSQL. The mirror runs in its
own event loop as the operator runs it: fed by a watch of TrainingJobs, relisting through ``cluster_lister``, and
receiving what a busy operator records: loss-curve points of 5 running jobs (50 a second, each fetched twice, as
/history?since= overlaps by one step), a pod load every second, and a comparison sample every half second. Meanwhile
the cluster changes: a TrainingJob created every 2 s, statuses patched, and some deleted.

Timeline: 20 s of activity; ``pg_ctl stop``; ``--outage`` seconds of activity with the database down (5 minutes in
the real run); ``pg_ctl start``; 20 s more; then everything stops. Catch-up time: from the server accepting connections
again until the mirror has written everything it held and finished the relist that follows an outage. Then every row
is checked: each history record issued is there once, and each TrainingJob's row has its object's last
resourceVersion, or deleted_at when the object is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from docs_section import replace_section  # bench/ is on the path when a benchmark runs as a script
from mirror_lag import TRAININGJOBS, list_version, tj_path, trainingjob
from operator_latency import install_crds
from sqlalchemy import text

from kubetune.kube import KubeClient
from kubetune.kube.client import Connection
from kubetune.store import Mirror, MirrorSettings, cluster_lister, upgrade
from kubetune.store.database import make_engine
from kubetune_devcluster.controlplane import start_cluster
from kubetune_devcluster.kubeapi import ApiError, KubeREST
from kubetune_devcluster.postgres import PostgresServer, start_postgres

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "mirror_outage.json"
SECTION = "mirror-outage"
NAMESPACE = "outage"
JOBS = 5
Json = dict[str, Any]


class OperatorLoop:
    """The mirror, its watch and the operator's history records, in one event loop on a thread."""

    def __init__(self, url: str, kubeconfig: Path) -> None:
        self.url, self.kubeconfig = url, kubeconfig
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="operator loop")
        self.mirror: Mirror | None = None
        self.client: KubeClient | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.recording = True
        self.points: set[tuple[str, int]] = set()
        self.deployments = 0
        self.samples = 0
        self.peak_depth = 0

    def call(self, coroutine: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> OperatorLoop:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        self.client = KubeClient(Connection.from_kubeconfig(str(self.kubeconfig)))
        self.mirror = Mirror(self.url, cluster_lister(self.client, [NAMESPACE]), MirrorSettings(relist_interval=60))
        await self.mirror.start()
        self.tasks = [asyncio.create_task(self._watch()), asyncio.create_task(self._record())]

    async def _watch(self) -> None:
        assert self.client is not None and self.mirror is not None
        version = None
        while True:
            try:
                async for event in self.client.watch(TRAININGJOBS, NAMESPACE, resource_version=version):
                    body = event["object"]
                    version = body["metadata"].get("resourceVersion", version)
                    if event["type"] != "BOOKMARK":
                        self.mirror.observe(event["type"], body)
            except asyncio.CancelledError:
                raise
            except Exception:  # the stream ended or the version expired: watch again from now
                version = None
                await asyncio.sleep(0.5)

    async def _record(self) -> None:
        assert self.mirror is not None
        started = datetime.now(UTC)
        tick = 0
        while True:
            await asyncio.sleep(0.1)
            if not self.recording:
                continue
            tick += 1
            for job in range(JOBS):
                uid = f"bench-job-{job}"
                point = {"step": tick, "loss": 5.0 / (1 + tick / 100), "learningRate": 2e-4, "epoch": tick / 600}
                previous = {"step": tick - 1} if tick > 1 else point
                self.mirror.record_training_metrics(uid, [previous, point])  # the overlap a since= fetch has
                self.points.add((uid, tick))
            if tick % 10 == 0:
                self.mirror.record_deployment(
                    model_uid="bench-model", namespace=NAMESPACE, model="bot-v1", target="vllm", pod=f"vllm-{tick}",
                    action="load", outcome="succeeded", latency_ms=80.0,
                    occurred_at=started + timedelta(seconds=tick / 10))
                self.deployments += 1
            if tick % 5 == 0:
                self.mirror.record_samples("bench-comparison", [
                    {"index": tick, "prompt": f"question {tick}", "reference": "answer",
                     "baselineAnswer": "an answer", "candidateAnswer": "the answer",
                     "metrics": {"baseline": {"exactMatch": 0.0}, "candidate": {"exactMatch": 1.0}},
                     "latencies": {"baseline": {"ttftMs": 21.0}, "candidate": {"ttftMs": 19.0}}}])
                self.samples += 1
            self.peak_depth = max(self.peak_depth, self.depth())

    def depth(self) -> int:
        assert self.mirror is not None
        return len(self.mirror._buffer)

    def stats(self) -> Json:
        assert self.mirror is not None
        return dict(vars(self.mirror.stats))

    def stop(self) -> None:
        async def stop() -> None:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            if self.mirror is not None:
                await self.mirror.stop(grace=60)
            if self.client is not None:
                await self.client.close()

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class ClusterChurn:
    """TrainingJobs come and go while the mirror runs: created, their status patched, some deleted."""

    def __init__(self, kube: KubeREST) -> None:
        self.kube = kube
        self.created = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="churn")

    def _run(self) -> None:
        phases = ("Pending", "Queued", "Running", "Succeeded")
        while not self.stopped.wait(2.0):
            with contextlib.suppress(ApiError):
                name = f"churn-{self.created:04d}"
                self.kube.create(tj_path(NAMESPACE), trainingjob(name))
                self.created += 1
                for i in range(max(0, self.created - 4), self.created - 1):
                    status = {"status": {"phase": phases[(self.created - i) % len(phases)]}}
                    self.kube.patch(f"{tj_path(NAMESPACE)}/churn-{i:04d}/status", status)
                if self.created % 3 == 0:
                    self.kube.delete(f"{tj_path(NAMESPACE)}/churn-{self.created - 3:04d}")


def own_rss() -> int:
    """This process's RSS (the cluster's processes are its children: not counted)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def verify(url: str, kube: KubeREST, operator: OperatorLoop) -> Json:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            points = {(uid, step) for uid, step in c.execute(text("select job_uid, step from training_metrics"))}
            deployments = c.execute(text("select count(*), count(distinct pod) from deployment_history")).one()
            samples = c.execute(text("select count(*) from comparison_samples")).scalar_one()
            rows = {uid: (version, deleted) for uid, version, deleted in
                    c.execute(text("select uid, resource_version, deleted_at from training_jobs"))}
    finally:
        engine.dispose()
    live = {tj["metadata"]["uid"]: tj["metadata"]["resourceVersion"] for tj in kube.get(tj_path(NAMESPACE))["items"]}
    stale = [uid for uid, version in live.items() if rows.get(uid, (None, None))[0] != version]
    not_tombstoned = [uid for uid, (_, deleted) in rows.items() if uid not in live and deleted is None]
    wrongly_deleted = [uid for uid in live if rows.get(uid, (None, None))[1] is not None]
    lost = (len(operator.points - points) + operator.deployments - deployments[1] + operator.samples - samples)
    return {
        "historyIssued": len(operator.points) + operator.deployments + operator.samples,
        "historyRows": len(points) + deployments[0] + samples,
        "rowsLost": lost,
        "duplicateRows": deployments[0] - deployments[1],
        "trainingJobsLive": len(live),
        "trainingJobRows": len(rows),
        "rowsNotCaughtUp": len(stale),
        "deletedNotMarked": len(not_tombstoned),
        "liveMarkedDeleted": len(wrongly_deleted),
    }


def wait_caught_up(operator: OperatorLoop, relists_before: int, timeout: float) -> float:
    started = time.monotonic()
    while operator.depth() > 0 or operator.stats()["relists"] <= relists_before:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not caught up after {timeout:.0f}s: {operator.depth()} records held")
        time.sleep(0.05)
    return time.monotonic() - started


def run(outage: float, root: Path) -> Json:
    cluster = start_cluster(root=root / "cluster", with_node=False)
    postgres: PostgresServer = start_postgres()
    operator: OperatorLoop | None = None
    churn: ClusterChurn | None = None
    try:
        install_crds(cluster.api)
        cluster.create_namespace(NAMESPACE)
        list_version(cluster.api, NAMESPACE)
        url = postgres.create_database("mirror_outage")
        upgrade(url)
        rss_start = own_rss()
        operator = OperatorLoop(url, cluster.kubeconfig).start()
        churn = ClusterChurn(cluster.api)
        churn.thread.start()
        time.sleep(20)
        postgres.shutdown()
        down_at = time.monotonic()
        rss_peak = rss_start
        while time.monotonic() - down_at < outage:
            time.sleep(1)
            rss_peak = max(rss_peak, own_rss())
        held = operator.depth()
        relists = operator.stats()["relists"]
        postgres.start()
        catch_up = wait_caught_up(operator, relists, 300)
        time.sleep(20)
        operator.recording = False
        churn.stopped.set()
        churn.thread.join(10)
        time.sleep(3)  # the last watch events and records reach the buffer
        operator.stop()
        stats = operator.stats()
        check = verify(url, cluster.api, operator)
        mb = 1024 * 1024
        return {
            "benchmark": "mirror: a PostgreSQL outage during activity",
            "setup": {
                "activity": f"loss-curve points of {JOBS} jobs (50/s, each recorded twice), a pod load every "
                            "second, a comparison sample every half second; a TrainingJob created every 2 s, three "
                            "statuses patched every 2 s, every third one deleted",
                "mirror": "kubetune.store.Mirror, default settings (bound 50,000 records, batches of 500), relist "
                          "every 60 s and after the outage",
                "outage": "pg_ctl stop -m fast, then pg_ctl start",
            },
            "outageSeconds": round(outage, 1),
            "recordsHeldAtRestart": held,
            "peakRecordsHeld": operator.peak_depth,
            "bufferMemoryMB": round((rss_peak - rss_start) / mb, 1),
            "catchUpSeconds": round(catch_up, 2),
            "check": check,
            "writer": stats,
            "trainingJobsCreated": churn.created,
            "goals": {"rowsLost": 0, "dropped": 0},
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                       f"load average {os.getloadavg()[0]:.1f} at the end",
            "measured": time.strftime("%Y-%m-%d"),
        }
    finally:
        if churn is not None:
            churn.stopped.set()
        if operator is not None and operator.thread.is_alive():
            with contextlib.suppress(Exception):
                operator.stop()
        postgres.stop()
        cluster.stop()


def update_docs(result: Json, command: str) -> None:
    check, writer = result["check"], result["writer"]
    ok = check["rowsLost"] == 0 and writer["dropped"] == 0 and check["duplicateRows"] == 0
    lines = [
        "## Mirror: a PostgreSQL outage",
        "",
        f"`{command}` runs the mirror as the operator does (a TrainingJob watch, relists, and a busy operator's "
        "history records) against a private PostgreSQL, stops the server with `pg_ctl stop` for "
        f"{result['outageSeconds']:.0f} s while the activity goes on, starts it again, and then checks every row.",
        "",
        "| | figure | goal |",
        "|---|---|---|",
        f"| outage | {result['outageSeconds']:.0f} s | |",
        f"| records held when the server came back | {result['recordsHeldAtRestart']:,} (buffer memory "
        f"{result['bufferMemoryMB']} MB) | < 50,000 (the bound) |",
        f"| catch-up: server back → everything held written and the cluster relisted | "
        f"**{result['catchUpSeconds']} s** | |",
        f"| history rows lost, of {check['historyIssued']:,} issued | **{check['rowsLost']}** | 0 |",
        f"| rows written twice | {check['duplicateRows']} | 0 |",
        f"| records dropped (`kubetune_mirror_rows_dropped_total`) | {writer['dropped']} | 0 |",
        f"| TrainingJob rows not at their object's last resourceVersion | {check['rowsNotCaughtUp']} of "
        f"{check['trainingJobsLive']} | 0 |",
        f"| rows of deleted TrainingJobs without deleted_at | {check['deletedNotMarked']} | 0 |",
        "",
        f"Goals {'met' if ok else 'NOT met'}. Machine: {result['machine']} (shared with other work); measured "
        f"{result['measured']}. Raw figures: `bench/results/mirror_outage.json`.",
    ]
    replace_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage", type=float, default=300, help="seconds the database is down (default 300)")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md or the results file")
    parser.add_argument("--keep", type=Path, help="keep the cluster's directory here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kubetune-bench-outage-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.outage, root)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if not args.no_docs:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        command = "python bench/mirror_outage.py" + (f" --outage {args.outage:g}" if args.outage != 300 else "")
        update_docs(result, command)


if __name__ == "__main__":
    main()
