"""Benchmark: TrainingJob applied -> training Job created, with 100 applied at once (three bursts, one after another);
the operator's RSS with 1,000 TrainingJobs under watch.

Goals (docs/benchmarks.md): Job-created latency p99 at most twice the Job controller's own Job -> Pod p99 on the same
bursts (issue 9), and under 1 s (the brief); RSS < 200 MB with 1,000 TrainingJobs.

    .venv/bin/python bench/operator_latency.py [--burst 100] [--repeat 3] [--total 1000] [--no-docs] [--keep DIR]

It starts the local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the process node
with 2 GPUs), installs the CRDs, and runs the operator as `kubetune operator` runs it (a separate process watching all
namespaces). Watches on the operator's Jobs and training pods are opened before anything is applied; they record the
client-side arrival time of each ADDED event.

The TrainingJobs ask for more GPUs than the node has, so the Jobs and their pods are created and the pods stay Pending
(Unschedulable, "Insufficient nvidia.com/gpu"), the state the issue's Queued test shows. This leaves the measured path
untouched: the operator creates the Job before any pod exists, so where the pod goes next cannot delay it, while the
pods' scheduling failures still reach the operator as pod events (each one a reconcile), as they would on a busy
cluster. Nothing trains, which on a 2-core machine would swamp every number here.

Measured per TrainingJob of each burst (the operator idle before each), pooled over the bursts (a single burst's p99
moves by a third from one run to the next on a shared 2-core machine, the baseline's too), each with its baseline,
the Job controller on the same Jobs, measured the same way:
- applied -> created (the goal): the TrainingJob's create call returned -> its Job's ADDED event; baseline: the Job's
  create call returned (the operator's "created Job" log line, ms resolution, written once its ConfigMap's create
  call has returned too: if anything late, which shortens the baseline) -> its first Pod's ADDED event;
- seen -> created: the TrainingJob's ADDED event -> its Job's ADDED event; baseline: the Job's ADDED event -> its
  first Pod's ADDED event. Every event arrival is taken on this process's clock, from watches opened beforehand;
- mixed, the ratio earlier versions reported: applied -> created against the baseline's seen -> created. It charges
  the operator with the API server's delivery of the TrainingJob's event, which it does not charge the Job controller
  with; also reported: from the moment the create call was sent, and from the server's creationTimestamps (1 s).
Then TrainingJobs are created up to --total; once the operator is idle, its RSS (with any children) is sampled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from docs_section import replace_section  # bench/ is on the path when a benchmark runs as a script

from kubetune.api import GROUP, VERSION
from kubetune.api.crdgen import crd_manifests
from kubetune.builders.naming import MANAGED_BY, OPERATOR, TRAININGJOB
from kubetune_devcluster.controlplane import LocalCluster, start_cluster
from kubetune_devcluster.kubeapi import ApiError, Connection, KubeREST
from kubetune_devcluster.operator_process import OperatorProcess

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "operator_latency.json"
SECTION = "operator-latency"
NAMESPACE = "bench"
NODE_GPUS = 2
JOB_GPUS = 4  # more than the node has: Jobs and pods are created, pods stay Pending
GOAL_RATIO = 2.0  # issue 9: the operator's p99 at most twice the Job controller's
CHILDREN = f"{MANAGED_BY}={OPERATOR},{TRAININGJOB}"
Json = dict[str, Any]


def trainingjob(name: str) -> Json:
    """A TrainingJob of realistic size: a 20-conversation inline dataset, LoRA on four projections."""
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
            "resources": {"gpus": JOB_GPUS, "memory": "2Gi"},
            "output": {"modelName": name, "storage": {"pvc": {"claimName": "adapters"}}},
        },
    }


def tj_path(name: str | None = None) -> str:
    return KubeREST.path(f"{GROUP}/{VERSION}", "trainingjobs", NAMESPACE, name)


# -- cluster set-up ------------------------------------------------------------------------------------------------
def install_crds(kube: KubeREST, timeout: float = 60) -> None:
    """Apply the CRDs and wait until they are Established and served (as tests/conftest.py's `crds` fixture)."""
    names = []
    for manifest in crd_manifests():
        kube.apply(manifest)
        names.append(manifest["metadata"]["name"])
    deadline = time.monotonic() + timeout
    while True:
        stored = [kube.get(KubeREST.path_for("CustomResourceDefinition", name=n)) for n in names]
        established = all(any(c["type"] == "Established" and c["status"] == "True"
                              for c in (crd.get("status") or {}).get("conditions") or []) for crd in stored)
        served = {r["name"] for r in (kube.get_or_none(f"/apis/{GROUP}/{VERSION}") or {}).get("resources", [])}
        if established and {c["spec"]["names"]["plural"] for c in stored} <= served:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not established after {timeout}s")
        time.sleep(0.2)


def create_claims(kube: KubeREST) -> None:
    for claim in ("models", "adapters"):
        kube.create(KubeREST.path_for("PersistentVolumeClaim", NAMESPACE), {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})


def list_version(kube: KubeREST, path: str, timeout: float = 60) -> str:
    """The resourceVersion of a list, to watch from; a new CRD's storage answers 429 for a moment after it is served."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return str(kube.get(path)["metadata"]["resourceVersion"])
        except ApiError as e:
            if e.status != 429 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- observation ---------------------------------------------------------------------------------------------------
class FirstSeen:
    """A watch that records, per TrainingJob name, when the first ADDED event of a child (or, with ``own=True``, of
    the TrainingJob itself) arrived (perf_counter)."""

    def __init__(self, creds: Connection, path: str, resource_version: str, own: bool = False) -> None:
        self.kube = KubeREST(creds)
        self.path = path
        self.resource_version = resource_version
        self.own = own
        self.seen: dict[str, float] = {}
        self.created: dict[str, str] = {}  # the child's server-side creationTimestamp
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"watch {path}")

    def start(self) -> FirstSeen:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                selector = {} if self.own else {"labelSelector": CHILDREN}
                for event in self.kube.watch(self.path, self.resource_version, timeout_seconds=300, **selector):
                    arrived = time.perf_counter()
                    meta = event["object"]["metadata"]
                    self.resource_version = meta.get("resourceVersion", self.resource_version)
                    if event["type"] != "ADDED":
                        continue
                    owner = meta["name"] if self.own else meta.get("labels", {}).get(TRAININGJOB)
                    with self.lock:
                        if owner and owner not in self.seen:
                            self.seen[owner] = arrived
                            self.created[owner] = meta["creationTimestamp"]
            except Exception:  # the server ends streams, and goes away at shutdown: watch again, or stop
                if self.stopped.wait(0.2):
                    return

    def count(self, names: list[str]) -> int:
        with self.lock:
            return sum(1 for n in names if n in self.seen)


def wait_for_count(watch: FirstSeen, names: list[str], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while watch.count(names) < len(names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {watch.count(names)}/{len(names)} {what} after {timeout:.0f}s")
        time.sleep(0.05)


# kopf's log format: "[2026-12-02 14:16:29,440] kubetune.controllers [INFO    ] created Job ns/x-trainer for
# TrainingJob x", written once the Job's and the ConfigMap's create calls returned (local time, as logging stamps it).
JOB_CREATED_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\] \S+ \[INFO\s*\] created Job "
                              r"(?P<namespace>[^/\s]+)/\S+ for TrainingJob (?P<name>\S+)$")


def jobs_applied(log_lines: list[str], namespace: str) -> dict[str, float]:
    """When each TrainingJob's Job create call returned in the operator (epoch seconds), from its log."""
    applied: dict[str, float] = {}
    for line in log_lines:
        match = JOB_CREATED_LINE.match(line)
        if match and match["namespace"] == namespace:
            stamp = time.mktime(time.strptime(match[1], "%Y-%m-%d %H:%M:%S")) + int(match[2]) / 1000
            applied.setdefault(match["name"], stamp)
    return applied


def process_rss(pid: int) -> int:
    """RSS in bytes of ``pid`` and all its descendants."""
    total = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return total


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class RssSampler:
    """Samples the operator's RSS every ``interval`` seconds in the background; keeps (time, bytes) pairs."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="rss")

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.samples.append((time.perf_counter(), process_rss(self.pid)))

    def start(self) -> RssSampler:
        self.thread.start()
        return self


# -- the phases ----------------------------------------------------------------------------------------------------
def burst(creds: Connection, names: list[str]) -> dict[str, tuple[float, float, str]]:
    """Create the TrainingJobs at once, one thread each, on connections opened beforehand.

    Returns name -> (sent, returned, server creationTimestamp)."""
    barrier = threading.Barrier(len(names))
    results: dict[str, tuple[float, float, str]] = {}

    def create(name: str) -> None:
        kube = KubeREST(creds)
        kube.get(KubeREST.path_for("Namespace", name=NAMESPACE))  # TLS handshake now, not in the measured call
        body = trainingjob(name)
        barrier.wait()
        sent = time.perf_counter()
        created = kube.create(tj_path(), body)
        results[name] = (sent, time.perf_counter(), created["metadata"]["creationTimestamp"])

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        for future in [pool.submit(create, n) for n in names]:
            future.result()
    return results


def create_many(creds: Connection, names: list[str], workers: int = 8) -> None:
    local = threading.local()

    def create(name: str) -> None:
        if not hasattr(local, "kube"):
            local.kube = KubeREST(creds)
        local.kube.create(tj_path(), trainingjob(name))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(create, names))


def wait_settled(kube: KubeREST, pid: int, total: int, timeout: float) -> float:
    """Until every TrainingJob shows Queued and the operator has used < 2 % of a core for 10 s; returns seconds."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        items = kube.get(tj_path())["items"]
        queued = sum(1 for tj in items if (tj.get("status") or {}).get("phase") == "Queued")
        if queued >= total:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {queued}/{total} TrainingJobs Queued after {timeout:.0f}s")
        time.sleep(2)
    wait_idle(pid, quiet=10, timeout=max(0.0, deadline - time.monotonic()))
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: with 100 values, p99 is the 99th smallest."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary(values: list[float]) -> Json:
    return {"p50": round(percentile(values, 50), 3), "p90": round(percentile(values, 90), 3),
            "p99": round(percentile(values, 99), 3), "max": round(max(values), 3),
            "mean": round(statistics.fmean(values), 3)}


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass
class BurstRound:
    """One burst: per TrainingJob, its Job's latency from the TrainingJob's create call returning (and being sent), from
    its ADDED event, and by server timestamps; per Job, the baseline: its first pod's, from the Job's create call
    returning and from its ADDED event."""

    names: list[str]
    from_return: list[float]
    from_send: list[float]
    from_seen: list[float]
    server: list[float]
    baseline_from_applied: list[float]
    baseline: list[float]  # from the Job's ADDED event
    create_span: float = 0.0
    all_created: float = 0.0
    operator_cpu: float = 0.0

    @classmethod
    def pool(cls, rounds: list[BurstRound]) -> BurstRound:
        def pooled(field: str) -> list[Any]:
            return [x for r in rounds for x in getattr(r, field)]
        return cls(pooled("names"), pooled("from_return"), pooled("from_send"), pooled("from_seen"), pooled("server"),
                   pooled("baseline_from_applied"), pooled("baseline"))

    def ratios(self, q: float = 99) -> Json:
        """The q-th percentile over the baseline's: like for like (applied, seen), and the mixed ratio of earlier
        versions."""
        def ratio(ours: list[float], theirs: list[float]) -> float:
            return round(percentile(ours, q) / percentile(theirs, q), 2)
        return {"applied": ratio(self.from_return, self.baseline_from_applied),
                "seen": ratio(self.from_seen, self.baseline), "mixed": ratio(self.from_return, self.baseline)}

    def summary(self) -> Json:
        return {"p99": round(percentile(self.from_return, 99), 3),
                "baselineP99": round(percentile(self.baseline_from_applied, 99), 3), "ratiosP99": self.ratios(),
                "allJobsCreatedSeconds": round(self.all_created, 3), "operatorCpuSeconds": round(self.operator_cpu, 2)}


@dataclass
class Watches:
    """The benchmark's own watches: TrainingJobs, their Jobs and their pods."""

    trainingjobs: FirstSeen
    jobs: FirstSeen
    pods: FirstSeen


def measure_burst(creds: Connection, seen: Watches, pid: int, operator_log: Path, names: list[str]) -> BurstRound:
    """Apply ``names`` at once, wait for their Jobs and pods, then for the operator to be idle again."""
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    epoch_offset = time.time() - started  # the operator's log is stamped in epoch time, the watches in perf_counter
    created = burst(creds, names)
    create_span = max(r[1] for r in created.values()) - started
    jobs, pods = seen.jobs, seen.pods
    wait_for_count(jobs, names, 300, "Jobs")
    all_created = max(jobs.seen[n] for n in names) - started
    wait_for_count(pods, names, 300, "pods")
    wait_for_count(seen.trainingjobs, names, 60, "TrainingJob events")
    operator_cpu = cpu_seconds(pid) - cpu_before
    wait_idle(pid)
    applied = jobs_applied(operator_log.read_text(errors="replace").splitlines(), NAMESPACE)
    missing = [n for n in names if n not in applied]
    if missing:
        raise TimeoutError(f"the operator's log has no 'created Job' line for {len(missing)} TrainingJobs (such as "
                           f"{missing[0]}): did its log format change? See JOB_CREATED_LINE")
    return BurstRound(
        names=names,
        from_return=[jobs.seen[n] - created[n][1] for n in names],
        from_send=[jobs.seen[n] - created[n][0] for n in names],
        from_seen=[jobs.seen[n] - seen.trainingjobs.seen[n] for n in names],
        server=[(parse_time(jobs.created[n]) - parse_time(created[n][2])).total_seconds() for n in names],
        baseline_from_applied=[pods.seen[n] - (applied[n] - epoch_offset) for n in names],
        baseline=[pods.seen[n] - jobs.seen[n] for n in names],
        create_span=create_span, all_created=all_created, operator_cpu=operator_cpu)


def wait_idle(pid: int, quiet: float = 3.0, timeout: float = 120) -> None:
    """Until the operator has used < 2 % of a core for ``quiet`` seconds: the next burst starts from rest."""
    deadline = time.monotonic() + timeout
    quiet_since, last_cpu = time.monotonic(), cpu_seconds(pid)
    while time.monotonic() - quiet_since < quiet:
        time.sleep(0.5)
        cpu = cpu_seconds(pid)
        if cpu - last_cpu > 0.01:
            quiet_since = time.monotonic()
        last_cpu = cpu
        if time.monotonic() > deadline:
            raise TimeoutError(f"operator still busy after {timeout:.0f}s")


def run(burst_size: int, total: int, root: Path, repeat: int = 3) -> Json:
    cluster: LocalCluster = start_cluster(root=root / "cluster", gpus=NODE_GPUS)
    operator: OperatorProcess | None = None
    try:
        kube = cluster.api
        creds = Connection.from_kubeconfig(cluster.kubeconfig)
        install_crds(kube)
        cluster.create_namespace(NAMESPACE)
        create_claims(kube)
        operator = OperatorProcess(kubeconfig=cluster.kubeconfig, log_path=root / "operator.log",
                                   env={"KUBETUNE_TRAINER_IMAGE": "kubetune/trainer:bench"}).start()
        assert operator.proc is not None
        pid = operator.proc.pid
        sampler = RssSampler(pid).start()

        def watch(path: str, own: bool = False) -> FirstSeen:
            return FirstSeen(creds, path, list_version(kube, path), own).start()

        seen = Watches(trainingjobs=watch(tj_path(), own=True), jobs=watch(KubeREST.path_for("Job", NAMESPACE)),
                       pods=watch(KubeREST.path_for("Pod", NAMESPACE)))
        jobs, pods = seen.jobs, seen.pods

        # Warm-up: the first reconcile in a fresh process pays for imports and connections; a running operator
        # has paid them long ago.
        warm = [f"warm-{i}" for i in range(3)]
        create_many(creds, warm, workers=3)
        wait_for_count(jobs, warm, 60, "warm-up Jobs")
        wait_for_count(pods, warm, 60, "warm-up pods")
        time.sleep(3)
        idle_rss = process_rss(pid)

        rounds = [measure_burst(creds, seen, pid, operator.log_path, [f"burst{r}-{i:03d}" for i in range(burst_size)])
                  for r in range(repeat)]
        names = [n for r in rounds for n in r.names]
        pooled = BurstRound.pool(rounds)
        ours = {"applied": summary(pooled.from_return), "seen": summary(pooled.from_seen)}
        baseline = {"applied": summary(pooled.baseline_from_applied), "seen": summary(pooled.baseline)}
        # The API server's delivery of a new TrainingJob's ADDED event: create call returned -> event arrived.
        delivered = [r - s for r, s in zip(pooled.from_return, pooled.from_seen, strict=True)]

        rest = [f"load-{i:04d}" for i in range(max(0, total - len(names) - len(warm)))]
        fill_started = time.perf_counter()
        create_many(creds, rest)
        everything = warm + names + rest
        wait_for_count(jobs, everything, 900, "Jobs (fill)")
        fill_seconds = time.perf_counter() - fill_started
        settle_seconds = wait_settled(kube, pid, len(everything), 900)
        settled = []
        for _ in range(10):
            settled.append(process_rss(pid))
            time.sleep(1)
        sampler.stopped.set()
        total_cpu = cpu_seconds(pid)
        peak = max([b for _, b in sampler.samples] + settled)
        mb = 1024 * 1024
        return {
            "benchmark": "TrainingJob applied -> training Job created; operator RSS under watch",
            "setup": {
                "cluster": "local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) with "
                           f"the process node advertising {NODE_GPUS} GPUs",
                "operator": "python -m kubetune.operator as a separate process, watching all namespaces",
                "pods": f"each TrainingJob asks for {JOB_GPUS} GPUs on a {NODE_GPUS}-GPU node: Jobs and pods are "
                        "created, pods stay Pending (Unschedulable). The Job is created before its pod exists, so "
                        "pod placement cannot delay it; no training runs to compete for the 2 cores.",
                "warmUpJobs": len(warm),
            },
            "burst": {
                "trainingJobs": burst_size,
                "rounds": repeat,
                "createCallsSpanSeconds": round(statistics.median(r.create_span for r in rounds), 3),
                "allJobsCreatedSeconds": round(statistics.median(r.all_created for r in rounds), 3),
                "operatorCpuSeconds": round(statistics.median(r.operator_cpu for r in rounds), 2),
                "jobCreatedLatencySeconds": ours,
                "jobCreatedLatencyFromSendSeconds": summary(pooled.from_send),
                "jobCreatedLatencyServerTimestampsSeconds": {
                    "resolution": 1, "p50": percentile(pooled.server, 50), "p99": percentile(pooled.server, 99),
                    "max": max(pooled.server)},
                "trainingJobEventDeliverySeconds": summary(delivered),
                "baselinePodCreatedLatencySeconds": baseline,
                "ratioToBaseline": {name: {"p50": p50, "p99": pooled.ratios(99)[name]}
                                    for name, p50 in pooled.ratios(50).items()},
                "perRound": [r.summary() for r in rounds],
                "goalRatioP99": GOAL_RATIO,
                "goalP99Seconds": 1.0,
            },
            "watch": {
                "trainingJobs": len(everything),
                "jobs": jobs.count(everything),
                "pods": pods.count(everything),
                "fillSeconds": round(fill_seconds, 1),
                "settleSeconds": round(settle_seconds, 1),
                "operatorCpuSeconds": round(total_cpu, 1),
                "idleRssMB": round(idle_rss / mb, 1),
                "peakRssMB": round(peak / mb, 1),
                "settledRssMB": round(statistics.median(settled) / mb, 1),
                "goalRssMB": 200,
            },
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                       f"load average {os.getloadavg()[0]:.1f} at the end",
            "measured": time.strftime("%Y-%m-%d"),
        }
    finally:
        if operator is not None:
            operator.stop()
        cluster.stop()


def update_docs(result: Json, command: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (between its markers), leaving the rest alone."""
    b, w = result["burst"], result["watch"]
    ours, base, ratios = b["jobCreatedLatencySeconds"], b["baselinePodCreatedLatencySeconds"], b["ratioToBaseline"]
    ratio_ok = ratios["applied"]["p99"] <= GOAL_RATIO and ratios["seen"]["p99"] <= GOAL_RATIO
    latency_ok = ours["applied"]["p99"] < 1.0
    rss_ok = w["settledRssMB"] < 200  # the goal: RSS with 1,000 TrainingJobs under watch
    delivery = b["trainingJobEventDeliverySeconds"]
    lines = [
        "## TrainingJob operator: Job-created latency and memory",
        "",
        f"`{command}` starts the local control plane, installs the CRDs and runs the operator as a separate process "
        f"(`python -m kubetune.operator`, all namespaces). It applies {b['trainingJobs']} TrainingJobs at once (one "
        f"thread each, connections opened beforehand), {b['rounds']} times with the operator idle before each, and "
        "measures, from watches opened before, how long each TrainingJob's batch/v1 Job took to appear. Side by "
        "side, on the same Jobs, it measures the Job controller's own Job → first Pod latency the same way: the "
        "baseline. Both are measured twice, like for like: from the parent's create call returning (*applied*: the "
        "TrainingJob's in the benchmark; the Job's in the operator, from its `created Job` log line, written once "
        "the ConfigMap's create call has returned too, so if anything late, which shortens the baseline) and from the "
        "parent's ADDED event reaching the benchmark's watch (*seen*). The TrainingJobs ask "
        f"for {JOB_GPUS} GPUs on a {NODE_GPUS}-GPU node, so Jobs and pods are created and the pods stay Pending "
        "(Unschedulable): the Job exists before its pod does, so placement cannot delay it, and no training competes "
        "for the machine's cores. Then it creates TrainingJobs up to "
        f"{w['trainingJobs']:,}, waits until all are Queued and the operator is idle, and samples its RSS.",
        "",
        f"| {b['rounds'] * b['trainingJobs']} TrainingJobs | operator: TrainingJob → Job | baseline: Job controller, "
        "Job → Pod | ratio | goal |",
        "|---|---|---|---|---|",
        f"| applied, p50 | {ours['applied']['p50']} s | {base['applied']['p50']} s | {ratios['applied']['p50']} | |",
        f"| applied, p99 | **{ours['applied']['p99']} s** | {base['applied']['p99']} s | "
        f"**{ratios['applied']['p99']}** | ratio ≤ {GOAL_RATIO:g}; < 1 s |",
        f"| applied, max | {ours['applied']['max']} s | {base['applied']['max']} s | | |",
        f"| seen, p50 | {ours['seen']['p50']} s | {base['seen']['p50']} s | {ratios['seen']['p50']} | |",
        f"| seen, p99 | **{ours['seen']['p99']} s** | {base['seen']['p99']} s | **{ratios['seen']['p99']}** | "
        f"ratio ≤ {GOAL_RATIO:g} |",
        f"| mixed (earlier versions): applied against the baseline's seen, p99 | {ours['applied']['p99']} s | "
        f"{base['seen']['p99']} s | {ratios['mixed']['p99']} | |",
        "",
        "Per burst, p99 (applied, operator / baseline) and the three ratios (applied, seen, mixed): " + "; ".join(
            f"{r['p99']} s / {r['baselineP99']} s: {r['ratiosP99']['applied']}, {r['ratiosP99']['seen']}, "
            f"{r['ratiosP99']['mixed']}" for r in b["perRound"]) + ". "
        f"All {b['trainingJobs']} Jobs of a burst existed {b['allJobsCreatedSeconds']} s (median) after the first "
        f"create call was sent (the create calls themselves took {b['createCallsSpanSeconds']} s); the operator used "
        f"{b['operatorCpuSeconds']} s of CPU per burst. Server timestamps (1 s resolution) give p99 "
        f"{b['jobCreatedLatencyServerTimestampsSeconds']['p99']} s.",
        "",
        "Why two like-for-like measures, and why the mixed one of earlier versions is not the goal: it set the "
        "TrainingJob's create call returning against the Job's ADDED event reaching a watch, so it charged the "
        "operator, not the Job controller, with the API server's delivery of the parent's event. Under a burst that "
        f"delivery is most of the gap: a new TrainingJob's ADDED event reached the benchmark's watch {delivery['p50']} "
        f"s (p50) and {delivery['p99']} s (p99) after its create call returned, before any operator code ran (in "
        "traced runs a separate, idle process watching TrainingJobs got it 0.09 to 0.19 s (p50) and 0.57 to 0.98 s "
        "(p99) after, and the operator's handler ran 0.01 to 0.02 s (p50) after that). The goal holds when both "
        "like-for-like ratios are within it.",
        "",
        "| operator RSS | MB | goal |",
        "|---|---|---|",
        f"| idle, 3 TrainingJobs | {w['idleRssMB']} | |",
        f"| peak, while {w['trainingJobs']:,} TrainingJobs were created and reconciled | {w['peakRssMB']} | |",
        f"| settled, {w['trainingJobs']:,} TrainingJobs, {w['jobs']:,} Jobs and {w['pods']:,} pods under watch | "
        f"**{w['settledRssMB']}** | < 200 |",
        "",
        f"Goals: ratios ≤ {GOAL_RATIO:g} {'met' if ratio_ok else 'NOT met'}, p99 < 1 s "
        f"{'met' if latency_ok else 'NOT met'}, memory {'met' if rss_ok else 'NOT met'}. "
        f"Machine: {result['machine']} (shared with other work); measured {result['measured']}. Raw figures: "
        "`bench/results/operator_latency.json`.",
        "",
        "Where the time goes (traced runs: a timestamp for each TrainingJob's watch event in the operator, the "
        "start of the pass that creates its Job and the create calls' return; two separate, idle processes watching "
        "TrainingJobs and Jobs; py-spy on the operator; earlier, the API server's CPU profile): the machine's two "
        "cores are the limit. In a burst the API server used 4.4 s of CPU, the operator 1.2 to 1.5 s, etcd 0.6 s, "
        "the controller manager 0.5 s. Per TrainingJob, p50 (p90) over three traced bursts: its ADDED event reached "
        "the idle watcher 0.09 to 0.19 s (0.34 to 0.45 s) after its create call returned, and the operator's "
        "handler 0.01 to 0.02 s after that; it waited 0.04 to 0.15 s (0.2 to 0.33 s) for one of the 32 workers; "
        "its ConfigMap and Job create calls took 0.3 to 0.42 s (0.38 to 0.54 s); its Job's ADDED event reached "
        "the watchers 0.02 to 0.34 s (0.37 to 0.64 s) later. The Job controller's path has the same parts. "
        "What the operator does about its part: (1) a burst's Jobs come first: a pass that created a Job while "
        "other new TrainingJobs wait for a worker leaves the status write to a second pass queued behind them (the "
        "Job it made is handed over, nothing is read again); waiting for a worker went from 0.5 s (median) to "
        "0.01 to 0.15 s; (2) while Jobs are being created, passes on existing TrainingJobs wait at the work "
        "queue's gate (at most 1 s), where a waiting worker takes a new TrainingJob as soon as one comes, and "
        "Events are queued for four background tasks that post them after; (3) "
        "references that a moment ago existed (the two claims all 100 jobs name) are read once per 5 s, not once "
        "per job: 206 GETs became 2, and the reference check 0.19 s (median) became 0.01 s; (4) a pass that creates "
        "the Job does not render it a second time to see whether it is stale; (5) the objects that live as long as "
        "the process (some 120,000 after start-up) are frozen out of the garbage collector's reach: full "
        "collections had stopped the event loop for 100 to 200 ms each, three or more times per burst; (6) the "
        "mirror writes what arrives within 0.1 s of a wake-up in one transaction; (7) kopf no longer logs a line "
        "per watch event. The path of the mixed p99 ratio, one burst per run: 4.7 at first; 3.8 after the earlier "
        "work (the create handler reusing the object kopf delivered, references in one round trip, the ConfigMap "
        "and the Job created together, no kopf diff base, child events coalesced); 1.0 to 2.4 (six runs) with the "
        "above, hence the pooled three bursts; pooled, 2.22, 1.11 and 2.55 in three runs, before the gate (2) held "
        "passes at the queue rather than in a worker; with it, three full runs gave applied 1.47, 1.15 and 1.07, seen "
        "1.27, 1.14 and 0.68, mixed 2.15, 1.66 and 1.15 (per burst, applied 0.8 to 1.99, seen 0.64 to 2.9: the "
        "first burst after start-up is the worst in most runs). Tried and left out: a smaller connection pool (16 "
        "instead of 64, kept alive longer, to spare the first burst its TLS handshakes: 2.85); 64 connections opened "
        "at start-up and kept for 120 s (no difference beyond the run-to-run spread); holding the body of the "
        "operator's own status writes for the next pass (no GET): with 1,000 TrainingJobs it raised the settled "
        "RSS from 178 to 208 MB.",
        "",
        "Where the memory goes: the RSS is mostly the high-water mark of bursts. Watch-event handlers only add the "
        "job's key to a work queue and return, so a burst holds keys, not event bodies (at most 256 newest bodies "
        "are kept for the passes to come); 32 workers reconcile at once (`KUBETUNE_MAX_CONCURRENT_RECONCILES`), each "
        "holding the objects it read. "
        "TrainingJobs have no kopf daemons, so kopf keeps none of their bodies (progress pulling and TTL timers are "
        "tasks the reconcile starts only for the jobs that need them); the `kubernetes` package is not installed "
        "(kopf imports it when present: about 9 MB); and the operator runs with `MALLOC_ARENA_MAX=2`, as the Helm "
        "chart sets it; every 10 s it hands freed heap back to the system (`malloc_trim`), so once a burst is over "
        "its RSS follows what it holds. The path (peak, which settled equalled before the trimming): 327 MB at "
        "first; 260 MB with bounded reconciles; 209 MB without daemons; 207 MB without the `kubernetes` package and "
        "with two malloc arenas; 146 MB with the work queue. Settled, with 1,000 TrainingJobs: 185.5 MB before the "
        "latency work above, 164 to 178 MB after.",
    ]
    replace_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=100, help="TrainingJobs applied at once")
    parser.add_argument("--repeat", type=int, default=3, help="bursts, one after another (latencies are pooled)")
    parser.add_argument("--total", type=int, default=1000, help="TrainingJobs under watch for the RSS figure")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md or the results file")
    parser.add_argument("--keep", type=Path, help="keep the cluster's directory and the operator's log here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kubetune-bench-operator-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.burst, args.total, root, args.repeat)
    except (ApiError, TimeoutError) as e:
        log = root / "operator.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise SystemExit(f"benchmark failed: {e}\noperator log (tail):\n{tail}") from e
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if not args.no_docs:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        command = "python bench/operator_latency.py"
        if (args.burst, args.total, args.repeat) != (100, 1000, 3):
            command += f" --burst {args.burst} --repeat {args.repeat} --total {args.total}"
        update_docs(result, command)


if __name__ == "__main__":
    main()
