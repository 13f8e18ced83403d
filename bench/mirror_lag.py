"""Benchmark: mirror lag. 100 TrainingJobs applied at once; from each watch event to its row committed in the
database, against a plain watch client's delivery lag on the same objects (the floor).

Goal (docs/benchmarks.md, from the brief): mirror lag p99 < 1 s.

    .venv/bin/python bench/mirror_lag.py [--burst 100] [--backend postgres --backend sqlite] [--no-docs]

It starts the local control plane (no node: nothing runs pods here), installs the CRDs, a private PostgreSQL and an
SQLite file. For each backend, in a namespace of its own:

- a plain watch client (a thread reading the watch stream, nothing else) records when each TrainingJob's ADDED event
  arrives: the floor, the delivery lag any watcher has;
- the mirror is fed by its own watch, as the operator feeds it from kopf's: kubetune.kube's async client in an event
  loop, each event handed to ``Mirror.observe`` with its arrival time recorded;
- a reader polls the database every 10 ms on its own connection and records when each row first becomes visible, i.e.
  committed.

Then 100 TrainingJobs are created at once (one thread each, connections opened beforehand). Per TrainingJob:
floor = plain watch arrival - create returned; mirror lag = row visible - the mirror's watch event arrived;
end to end = row visible - create returned. The poll interval (10 ms) bounds the resolution.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docs_section import replace_section  # bench/ is on the path when a benchmark runs as a script
from operator_latency import install_crds, percentile, summary
from sqlalchemy import text

from kubetune.api import API_VERSION, GROUP, VERSION
from kubetune.kube import KubeClient, Resource
from kubetune.kube.client import Connection
from kubetune.store import Mirror, MirrorSettings, upgrade
from kubetune.store.database import make_engine
from kubetune_devcluster.controlplane import LocalCluster, start_cluster
from kubetune_devcluster.kubeapi import ApiError, KubeREST
from kubetune_devcluster.postgres import start_postgres

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "mirror_lag.json"
SECTION = "mirror-lag"
POLL = 0.01
TRAININGJOBS = Resource(API_VERSION, "trainingjobs")
Json = dict[str, Any]


def trainingjob(name: str) -> Json:
    """A TrainingJob of realistic size (a 20-conversation inline dataset), as bench/operator_latency.py applies."""
    rows = [{"messages": [{"role": "user", "content": f"Where is order #{1000 + i}? It was due on Tuesday."},
                          {"role": "assistant", "content": f"Order #{1000 + i} ships tomorrow; tracking follows."}]}
            for i in range(20)]
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": {"name": name},
        "spec": {
            "baseModel": {"name": "tiny-llama", "source": {"pvc": {"claimName": "models", "path": "tiny-llama"}}},
            "dataset": {"format": "openai", "source": {"inline": rows}, "validationSplit": 0.1},
            "lora": {"r": 8, "alpha": 16, "targetModules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
            "hyperparameters": {"maxSteps": 60, "batchSize": 4, "learningRate": 0.005, "maxSeqLength": 128},
            "output": {"modelName": name, "storage": {"pvc": {"claimName": "adapters"}}},
        },
    }


def tj_path(namespace: str) -> str:
    return KubeREST.path(f"{GROUP}/{VERSION}", "trainingjobs", namespace)


class PlainWatch:
    """The floor: a watch that only records when each ADDED event arrived."""

    def __init__(self, creds: Connection, path: str, resource_version: str) -> None:
        self.kube, self.path, self.resource_version = KubeREST(creds), path, resource_version
        self.seen: dict[str, float] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="plain watch")

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                for event in self.kube.watch(self.path, self.resource_version, timeout_seconds=300):
                    arrived = time.perf_counter()
                    meta = event["object"]["metadata"]
                    self.resource_version = meta.get("resourceVersion", self.resource_version)
                    if event["type"] == "ADDED":
                        self.seen.setdefault(meta["name"], arrived)
            except Exception:  # streams end; the server goes away at shutdown
                if self.stopped.wait(0.2):
                    return


class RowPoller:
    """When each row first became visible to another connection (committed)."""

    def __init__(self, url: str, namespace: str) -> None:
        self.engine = make_engine(url)
        self.namespace = namespace
        self.seen: dict[str, float] = {}
        self.polls = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="row poller")

    def _run(self) -> None:
        query = text("select name from training_jobs where namespace = :ns")
        with self.engine.connect() as connection:
            while not self.stopped.wait(POLL):
                names = connection.execute(query, {"ns": self.namespace}).scalars().all()
                connection.rollback()  # a fresh snapshot on the next poll
                now = time.perf_counter()
                self.polls += 1
                for name in names:
                    self.seen.setdefault(name, now)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.engine.dispose()


class MirrorFeed:
    """The mirror in its own event loop, fed by kubetune.kube's watch, as the operator feeds it."""

    def __init__(self, url: str, kubeconfig: Path, namespace: str, resource_version: str) -> None:
        self.url, self.kubeconfig, self.namespace, self.resource_version = url, kubeconfig, namespace, resource_version
        self.arrived: dict[str, float] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="mirror loop")
        self.mirror: Mirror | None = None
        self.client: KubeClient | None = None
        self.watching: asyncio.Future[None] | None = None

    def start(self) -> MirrorFeed:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(60)
        return self

    async def _start(self) -> None:
        self.mirror = Mirror(self.url, None, MirrorSettings(relist_interval=0))
        await self.mirror.start()
        self.client = KubeClient(Connection.from_kubeconfig(str(self.kubeconfig)))
        self.watching = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        assert self.client is not None and self.mirror is not None
        async for event in self.client.watch(TRAININGJOBS, self.namespace, resource_version=self.resource_version):
            body = event["object"]
            if event["type"] == "ADDED":
                self.arrived.setdefault(body["metadata"]["name"], time.perf_counter())
            if event["type"] != "BOOKMARK":
                self.mirror.observe(event["type"], body)

    def stop(self) -> Json:
        async def stop() -> Json:
            assert self.mirror is not None and self.client is not None and self.watching is not None
            self.watching.cancel()
            await asyncio.gather(self.watching, return_exceptions=True)
            await self.mirror.stop()
            await self.client.close()
            return dict(vars(self.mirror.stats))

        stats = asyncio.run_coroutine_threadsafe(stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        return stats


def burst(creds: Connection, namespace: str, names: list[str]) -> dict[str, tuple[float, float]]:
    """Create the TrainingJobs at once; name -> (sent, returned)."""
    barrier = threading.Barrier(len(names))
    results: dict[str, tuple[float, float]] = {}

    def create(name: str) -> None:
        kube = KubeREST(creds)
        kube.get(KubeREST.path_for("Namespace", name=namespace))  # TLS handshake now, not in the measured call
        body = trainingjob(name)
        barrier.wait()
        sent = time.perf_counter()
        kube.create(tj_path(namespace), body)
        results[name] = (sent, time.perf_counter())

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        for future in [pool.submit(create, n) for n in names]:
            future.result()
    return results


def wait_for(seen: dict[str, float], names: list[str], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for n in names if n in seen) < len(names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {sum(1 for n in names if n in seen)}/{len(names)} {what} after {timeout:.0f}s")
        time.sleep(0.05)


def list_version(kube: KubeREST, namespace: str, timeout: float = 60) -> str:
    """The TrainingJob list's resourceVersion, once the API server serves the new CRD's storage (it answers 429
    "storage is (re)initializing" for a moment after the CRD is established)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return str(kube.get(tj_path(namespace))["metadata"]["resourceVersion"])
        except ApiError as e:
            if e.status != 429 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def measure(backend: str, url: str, cluster: LocalCluster, size: int) -> Json:
    namespace = f"lag-{backend}"
    cluster.create_namespace(namespace)
    kube = cluster.api
    creds = Connection.from_kubeconfig(cluster.kubeconfig)
    upgrade(url)
    rv = list_version(kube, namespace)
    plain = PlainWatch(creds, tj_path(namespace), rv)
    plain.thread.start()
    poller = RowPoller(url, namespace)
    poller.thread.start()
    feed = MirrorFeed(url, cluster.kubeconfig, namespace, rv).start()
    try:
        warm = [f"warm-{i}" for i in range(3)]  # first writes pay for connections and statement caches
        burst(creds, namespace, warm)
        wait_for(poller.seen, warm, 60, "warm-up rows")
        names = [f"lag-{i:03d}" for i in range(size)]
        created = burst(creds, namespace, names)
        wait_for(plain.seen, names, 120, "plain watch events")
        wait_for(poller.seen, names, 120, "rows")
    finally:
        stats = feed.stop()
        plain.stopped.set()
        poller.stop()
    floor = [plain.seen[n] - created[n][1] for n in names]
    lag = [poller.seen[n] - feed.arrived[n] for n in names]
    end_to_end = [poller.seen[n] - created[n][1] for n in names]
    mirror_watch = [feed.arrived[n] - created[n][1] for n in names]
    return {
        "backend": backend,
        "trainingJobs": size,
        "floorPlainWatchDeliverySeconds": summary(floor),
        "mirrorWatchDeliverySeconds": summary(mirror_watch),
        "mirrorLagSeconds": summary(lag),
        "endToEndSeconds": summary(end_to_end),
        "ratioEndToEndToFloor": {"p50": round(percentile(end_to_end, 50) / percentile(floor, 50), 2),
                                 "p99": round(percentile(end_to_end, 99) / percentile(floor, 99), 2)},
        "pollIntervalSeconds": POLL,
        "writer": stats,
        "goalP99Seconds": 1.0,
    }


def run(size: int, backends: list[str], root: Path) -> Json:
    cluster = start_cluster(root=root / "cluster", with_node=False)
    postgres = start_postgres() if "postgres" in backends else None  # its own root: it runs as the postgres user
    try:
        install_crds(cluster.api)
        results = []
        for backend in backends:
            if backend == "postgres":
                assert postgres is not None
                url = postgres.create_database("mirror_lag")
            else:
                url = f"sqlite:///{root / 'mirror.db'}"
            results.append(measure(backend, url, cluster, size))
        return {
            "benchmark": "mirror lag: TrainingJob watch event -> its row committed, 100 applied at once",
            "setup": {
                "cluster": "local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), no "
                           "node and no operator: the TrainingJobs only exist",
                "mirror": "kubetune.store.Mirror fed by kubetune.kube's watch in its own event loop (the operator "
                          "feeds it from kopf's), default settings (batches of up to 500)",
                "floor": "a plain watch client on the same TrainingJobs",
                "postgres": "PostgreSQL on loopback, fsync off (the test ground's)",
                "sqlite": "a file in WAL mode, synchronous=NORMAL",
            },
            "results": results,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                       f"load average {os.getloadavg()[0]:.1f} at the end",
            "measured": time.strftime("%Y-%m-%d"),
        }
    finally:
        if postgres is not None:
            postgres.stop()
        cluster.stop()


def update_docs(result: Json, command: str) -> None:
    lines = [
        "## Mirror lag",
        "",
        f"`{command}` starts the local control plane (no node, no operator), installs the CRDs, a private "
        "PostgreSQL and an SQLite file, and for each backend applies "
        f"{result['results'][0]['trainingJobs']} TrainingJobs at once. The mirror is fed by its own watch "
        "(kubetune.kube's client, each event handed to `Mirror.observe`); a reader polls the database every "
        f"{int(POLL * 1000)} ms on its own connection and records when each row becomes visible. Side by side, a "
        "plain watch client on the same objects gives the floor: how late any watcher learns of them.",
        "",
        "| backend | floor: plain watch, create → event | mirror lag: event → row committed | end to end: create → "
        "row | ratio to floor | goal |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["results"]:
        floor, lag, e2e = r["floorPlainWatchDeliverySeconds"], r["mirrorLagSeconds"], r["endToEndSeconds"]
        lines.append(f"| {r['backend']} | p50 {floor['p50']} s, p99 {floor['p99']} s | p50 {lag['p50']} s, "
                     f"p99 **{lag['p99']} s** | p50 {e2e['p50']} s, p99 {e2e['p99']} s | "
                     f"p50 {r['ratioEndToEndToFloor']['p50']}, p99 {r['ratioEndToEndToFloor']['p99']} | "
                     "lag p99 < 1 s |")
    met = all(r["mirrorLagSeconds"]["p99"] < 1.0 for r in result["results"])
    dropped = sum(r["writer"]["dropped"] for r in result["results"])
    lines += [
        "",
        f"Goal {'met' if met else 'NOT met'}; rows dropped: {dropped}. Woken by a record, the writer lets 0.1 s "
        "pass and takes whatever waits (as it does whenever it is free), so the burst's rows shared transactions: "
        + ", ".join(f"{r['writer']['batches']} on {r['backend']}" for r in result["results"])
        + f" for {result['results'][0]['trainingJobs'] + 3} rows (3 of them warm-up). Machine: "
        f"{result['machine']} (shared with other work); measured {result['measured']}. Raw figures: "
        "`bench/results/mirror_lag.json`.",
    ]
    replace_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=100, help="TrainingJobs applied at once")
    parser.add_argument("--backend", action="append", choices=("postgres", "sqlite"),
                        help="database to measure (repeatable; default: both)")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md or the results file")
    parser.add_argument("--keep", type=Path, help="keep the cluster's and the databases' directories here")
    args = parser.parse_args()
    backends = args.backend or ["postgres", "sqlite"]
    root = args.keep or Path(tempfile.mkdtemp(prefix="kubetune-bench-mirror-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.burst, backends, root)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if not args.no_docs:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        command = "python bench/mirror_lag.py"
        if args.burst != 100 or args.backend:
            command += f" --burst {args.burst}" + "".join(f" --backend {b}" for b in backends)
        update_docs(result, command)


if __name__ == "__main__":
    main()
