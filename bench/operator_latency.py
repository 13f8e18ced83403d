"""Benchmark: TrainingJob applied -> training Job created, with 100 applied at once; the operator's RSS with 1,000
TrainingJobs under watch.

Goals (docs/benchmarks.md, from the brief): Job-created latency p99 < 1 s; RSS < 200 MB with 1,000 TrainingJobs.

    .venv/bin/python bench/operator_latency.py [--burst 100] [--total 1000] [--no-docs] [--keep DIR]

It starts the local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the process node
with 2 GPUs), installs the CRDs, and runs the operator as `kubetune operator` runs it (a separate process watching all
namespaces). Watches on the operator's Jobs and training pods are opened before anything is applied; they record the
client-side arrival time of each ADDED event.

The TrainingJobs ask for more GPUs than the node has, so the Jobs and their pods are created and the pods stay Pending
(Unschedulable, "Insufficient nvidia.com/gpu"), the state the issue's Queued test shows. This leaves the measured path
untouched: the operator creates the Job before any pod exists, so where the pod goes next cannot delay it, while the
pods' scheduling failures still reach the operator as pod events (each one a reconcile), as they would on a busy
cluster. Nothing trains, which on a 2-core machine would swamp every number here.

Measured per TrainingJob of the burst:
- operator latency: TrainingJob create call returned -> its Job's ADDED event (client clock, both in this process);
  also from the moment the create call was sent, and from the server's creationTimestamps (1 s resolution);
- baseline, side by side on the same Jobs: the Job controller's Job ADDED -> its first Pod ADDED, measured the same way.
Then TrainingJobs are created up to --total; once the operator is idle, its RSS (with any children) is sampled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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


# -- observation ---------------------------------------------------------------------------------------------------
class FirstSeen:
    """A watch that records, per TrainingJob name, when the first ADDED event of a child arrived (perf_counter)."""

    def __init__(self, creds: Connection, path: str, resource_version: str) -> None:
        self.kube = KubeREST(creds)
        self.path = path
        self.resource_version = resource_version
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
                for event in self.kube.watch(self.path, self.resource_version, timeout_seconds=300,
                                             labelSelector=CHILDREN):
                    arrived = time.perf_counter()
                    meta = event["object"]["metadata"]
                    self.resource_version = meta.get("resourceVersion", self.resource_version)
                    if event["type"] != "ADDED":
                        continue
                    owner = meta.get("labels", {}).get(TRAININGJOB)
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
    quiet_since, last_cpu = time.monotonic(), cpu_seconds(pid)
    while time.monotonic() - quiet_since < 10:
        time.sleep(1)
        cpu = cpu_seconds(pid)
        if cpu - last_cpu > 0.02:
            quiet_since = time.monotonic()
        last_cpu = cpu
        if time.monotonic() > deadline:
            raise TimeoutError(f"operator still busy after {timeout:.0f}s")
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


def run(burst_size: int, total: int, root: Path) -> Json:
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

        jobs_rv = kube.get(KubeREST.path_for("Job", NAMESPACE))["metadata"]["resourceVersion"]
        pods_rv = kube.get(KubeREST.path_for("Pod", NAMESPACE))["metadata"]["resourceVersion"]
        jobs = FirstSeen(creds, KubeREST.path_for("Job", NAMESPACE), jobs_rv).start()
        pods = FirstSeen(creds, KubeREST.path_for("Pod", NAMESPACE), pods_rv).start()

        # Warm-up: the first reconcile in a fresh process pays for imports and connections; a running operator
        # has paid them long ago.
        warm = [f"warm-{i}" for i in range(3)]
        create_many(creds, warm, workers=3)
        wait_for_count(jobs, warm, 60, "warm-up Jobs")
        wait_for_count(pods, warm, 60, "warm-up pods")
        time.sleep(3)
        idle_rss = process_rss(pid)

        names = [f"burst-{i:03d}" for i in range(burst_size)]
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        created = burst(creds, names)
        create_span = max(r[1] for r in created.values()) - started
        wait_for_count(jobs, names, 300, "Jobs")
        burst_seconds = max(jobs.seen[n] for n in names) - started
        wait_for_count(pods, names, 300, "pods")
        operator_cpu = cpu_seconds(pid) - cpu_before

        from_return = [jobs.seen[n] - created[n][1] for n in names]
        from_send = [jobs.seen[n] - created[n][0] for n in names]
        server = [(parse_time(jobs.created[n]) - parse_time(created[n][2])).total_seconds() for n in names]
        baseline = [pods.seen[n] - jobs.seen[n] for n in names]
        operator_summary, baseline_summary = summary(from_return), summary(baseline)

        rest = [f"load-{i:04d}" for i in range(total - burst_size - len(warm))]
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
                "createCallsSpanSeconds": round(create_span, 3),
                "allJobsCreatedSeconds": round(burst_seconds, 3),
                "operatorCpuSeconds": round(operator_cpu, 2),
                "jobCreatedLatencySeconds": operator_summary,
                "jobCreatedLatencyFromSendSeconds": summary(from_send),
                "jobCreatedLatencyServerTimestampsSeconds": {
                    "resolution": 1, "p50": percentile(server, 50), "p99": percentile(server, 99), "max": max(server)},
                "baselinePodCreatedLatencySeconds": baseline_summary,
                "ratioToBaseline": {
                    "p50": round(operator_summary["p50"] / baseline_summary["p50"], 2),
                    "p99": round(operator_summary["p99"] / baseline_summary["p99"], 2)},
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
    op, base = b["jobCreatedLatencySeconds"], b["baselinePodCreatedLatencySeconds"]
    latency_ok = op["p99"] < 1.0
    rss_ok = w["settledRssMB"] < 200  # the goal: RSS with 1,000 TrainingJobs under watch
    lines = [
        "## TrainingJob operator: Job-created latency and memory",
        "",
        f"`{command}` starts the local control plane, installs the CRDs and runs the operator as a separate process "
        f"(`python -m kubetune.operator`, all namespaces). It applies {b['trainingJobs']} TrainingJobs at once (one "
        "thread each, connections opened beforehand) and measures, from watches opened before, how long each "
        "TrainingJob's batch/v1 Job took to appear after its create call returned. Side by side, on the same Jobs, "
        "it measures the Job controller's own Job → first Pod latency the same way: the baseline. The TrainingJobs ask "
        f"for {JOB_GPUS} GPUs on a {NODE_GPUS}-GPU node, so Jobs and pods are created and the pods stay Pending "
        "(Unschedulable): the Job exists before its pod does, so placement cannot delay it, and no training competes "
        "for the machine's cores. Then it creates TrainingJobs up to "
        f"{w['trainingJobs']:,}, waits until all are Queued and the operator is idle, and samples its RSS.",
        "",
        "| | operator: TrainingJob → Job | baseline: Job controller, Job → Pod | ratio | goal |",
        "|---|---|---|---|---|",
        f"| p50 | {op['p50']} s | {base['p50']} s | {b['ratioToBaseline']['p50']} | |",
        f"| p99 | **{op['p99']} s** | {base['p99']} s | {b['ratioToBaseline']['p99']} | < 1 s |",
        f"| max | {op['max']} s | {base['max']} s | | |",
        "",
        f"All {b['trainingJobs']} Jobs existed {b['allJobsCreatedSeconds']} s after the first create call was sent "
        f"(the create calls themselves took {b['createCallsSpanSeconds']} s); the operator used "
        f"{b['operatorCpuSeconds']} s of CPU for the burst. Server timestamps (1 s resolution) give p99 "
        f"{b['jobCreatedLatencyServerTimestampsSeconds']['p99']} s.",
        "",
        "| operator RSS | MB | goal |",
        "|---|---|---|",
        f"| idle, 3 TrainingJobs | {w['idleRssMB']} | |",
        f"| peak, while {w['trainingJobs']:,} TrainingJobs were created and reconciled | {w['peakRssMB']} | |",
        f"| settled, {w['trainingJobs']:,} TrainingJobs, {w['jobs']:,} Jobs and {w['pods']:,} pods under watch | "
        f"**{w['settledRssMB']}** | < 200 |",
        "",
        f"Goals: latency {'met' if latency_ok else 'NOT met'}, memory {'met' if rss_ok else 'NOT met'}. "
        f"Machine: {result['machine']} (shared with other work); measured {result['measured']}. Raw figures: "
        "`bench/results/operator_latency.json`.",
        "",
        "Where the time goes (operator log timestamps, a traced run timing each API request, and cProfile of the "
        "operator over the burst): kopf hands a new TrainingJob to the operator within about 0.1 s; the rest is API "
        "round trips, two before the Job exists: the reference checks (PVCs, Secrets, ConfigMap, serving "
        "Deployments), then the ConfigMap and the Job, created together (a new TrainingJob's Job is not looked for "
        "first: creating it says when it exists). Each TrainingJob was reconciled about 12 times in the burst (its "
        "own event, its Job's and its pod's as the Job controller and the scheduler write them), each pass reading "
        "the Job and listing its pods, so about 2,500 reads competed with the creates for the API server; the events "
        "of a job's Job and pods now share one pass when they come within 0.2 s, and serving the remaining reads "
        "from watch caches, as client-go's informers do, is the next step. The profile's largest CPU "
        "cost was kopf deep-copying every event's body twice to diff it for handler kinds kubetune does not use "
        "(2.0 s of 5.0 s profiled); kopf no longer builds that diff. While 100 TrainingJobs, their Jobs and their "
        "pods are being written, "
        "a single request on this 2-core machine takes 0.3 to 0.8 s (median), which also slows the baseline's single "
        "pod creation; the ratio is the figure to compare across machines. The path here, on this machine, same "
        "benchmark: p99 5.6 s at first; 3.2 s once the create handler reused the object kopf delivered, checked "
        "references in one round trip, and events of a job's Job and pods coalesced into one reconcile; 1.7 s with "
        "the ConfigMap and the Job created together; 1.6 s with TrainingJobs followed through watch events, so kopf "
        "writes nothing onto them and the operator's own status writes are not reconciled again; 1.8 to 2.0 s without "
        "kopf's diff base (operator CPU for the burst 1.1 to 1.4 s, from 1.3 to 1.5 s); 1.2 to 1.8 s with child "
        "events coalesced (operator CPU 1.0 to 1.1 s). Runs vary by a third, the baseline's too (p99 0.24 to 0.49 s), "
        "so the ratio moves with both.",
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
        "with two malloc arenas; 146 MB with the work queue.",
    ]
    replace_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=100, help="TrainingJobs applied at once")
    parser.add_argument("--total", type=int, default=1000, help="TrainingJobs under watch for the RSS figure")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md or the results file")
    parser.add_argument("--keep", type=Path, help="keep the cluster's directory and the operator's log here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kubetune-bench-operator-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.burst, args.total, root)
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
        if (args.burst, args.total) != (100, 1000):
            command += f" --burst {args.burst} --total {args.total}"
        update_docs(result, command)


if __name__ == "__main__":
    main()
