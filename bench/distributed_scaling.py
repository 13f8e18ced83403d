"""Benchmark: tokens/s of one TrainingJob on two pods against the same job on one pod, and the communication share of
a step.

    .venv/bin/python bench/distributed_scaling.py [--steps 60] [--repeat 2] [--no-docs]

Each side runs kubetune's trainer as its pods would, on the same model, data and settings, alternating which goes
first:

- **1 pod**: ``python -m kubetune.training`` with every core of the machine (``OMP_NUM_THREADS`` = cores);
- **2 pods**: two ``torchrun``s meeting over loopback through Kubeflow's ``PET_*`` variables, exactly as the pods of a
  ``resources.nodes: 2`` job do behind their headless Service, each with half the cores; gloo all-reduces the
  gradients, so a step trains on twice the examples;
- **1 rank alone** (for the communication share): one process with one rank's cores and batch, no peer. A rank of the
  2-pod run does this work and then all-reduces, so ``1 - t(alone) / t(2 pods)`` per step is the share of a step
  spent communicating (and waiting for the slower rank).

Tokens/s is TRL's count of the non-padding tokens trained on (gathered from every rank) over ``train_runtime``.
On a machine of two cores, two "pods" share the cores one pod had, so the ratio says what the gang costs, not what
two real nodes gain; on two nodes each pod has a machine of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docs_section import replace_section  # bench/ is on the path when a benchmark runs as a script
from trainer_overhead import bench_model, job_config, write_dataset

SECTION = "distributed-scaling"
CORES = os.cpu_count() or 1
KINDS = ("one-pod", "two-pods", "one-rank-alone")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(threads: int, **extra: str) -> dict[str, str]:
    # Passive OpenMP waits: threads that spin for work make a shared machine's timings swing by several times.
    return {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(threads),
            "OMP_WAIT_POLICY": "PASSIVE", **extra}


def trainer(config_path: Path) -> list[str]:
    return [sys.executable, "-m", "kubetune.training", "--config", str(config_path)]


def torchrun(config_path: Path) -> list[str]:
    return [sys.executable, "-m", "kubetune.training.torchrun", "-m", "kubetune.training", "--config",
            str(config_path)]


def run_one(kind: str, root: Path, model: Path, data: Path, steps: int) -> dict[str, Any]:
    root.mkdir(parents=True)
    config = job_config(root, model, data, steps, kind)
    config["checkpoint"] = {"everySteps": steps, "keep": 1}  # one save at the end: the step time is the subject
    path = root / "job.json"
    path.write_text(json.dumps(config))
    start = time.perf_counter()
    if kind == "two-pods":
        port = str(free_port())
        procs = []
        for rank in (0, 1):
            variables = {"PET_NNODES": "2", "PET_NPROC_PER_NODE": "1", "PET_NODE_RANK": str(rank),
                         "PET_MASTER_ADDR": "127.0.0.1", "PET_MASTER_PORT": port}
            log = (root / f"rank-{rank}.log").open("wb")
            procs.append(subprocess.Popen(torchrun(path), stdout=log, stderr=subprocess.STDOUT,
                                          env=environment(max(1, CORES // 2), **variables)))
        codes = [p.wait(3600) for p in procs]
        output = "\n".join((root / f"rank-{rank}.log").read_text()[-3000:] for rank in (0, 1))
    else:
        threads = CORES if kind == "one-pod" else max(1, CORES // 2)
        done = subprocess.run(trainer(path), capture_output=True, text=True, env=environment(threads), timeout=3600)
        codes, output = [done.returncode], done.stdout[-3000:] + done.stderr[-3000:]
    wall = time.perf_counter() - start
    if any(codes):
        raise RuntimeError(f"{kind} run failed ({codes}):\n{output}")
    metrics = json.loads(Path(config["terminationMessagePath"]).read_text())["metrics"]
    assert metrics["steps"] == steps, metrics
    return {"tokensPerSecond": metrics["tokensPerSecond"], "runtimeSeconds": metrics["runtimeSeconds"],
            "secondsPerStep": metrics["runtimeSeconds"] / steps, "wallSeconds": round(wall, 1)}


def run(steps: int, repeat: int, examples: int, workdir: Path) -> dict[str, Any]:
    model = bench_model()
    data = workdir / "train.jsonl"
    write_dataset(data, examples)
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for i in range(repeat):
        order = KINDS if i % 2 == 0 else tuple(reversed(KINDS))
        for kind in order:
            result = run_one(kind, workdir / f"{kind}-{i}", model, data, steps)
            runs[kind].append(result)
            print(f"run {i} {kind}: {result}", file=sys.stderr)

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    one, two = median("one-pod", "tokensPerSecond"), median("two-pods", "tokensPerSecond")
    alone, gang = median("one-rank-alone", "secondsPerStep"), median("two-pods", "secondsPerStep")
    return {
        "benchmark": "distributed scaling: 2 pods (torchrun, gloo) vs 1 pod",
        "model": "Llama, hidden 256, 4 layers, 4 heads, vocab 512 (random init)",
        "steps": steps, "repeat": repeat, "examples": examples,
        "settings": "LoRA r16 all-linear, batch 8 per rank, maxSeqLength 128, CPU fp32, gloo over loopback",
        "tokensPerSecond": {kind: [round(r["tokensPerSecond"], 1) for r in runs[kind]] for kind in KINDS},
        "secondsPerStep": {kind: [round(r["secondsPerStep"], 3) for r in runs[kind]] for kind in KINDS},
        "onePodMedian": round(one, 1),
        "twoPodsMedian": round(two, 1),
        "ratio": round(two / one, 3),
        "communicationShare": round(max(0.0, 1 - alone / gang), 3),
        "machine": f"{platform.machine()}, {CORES} CPUs, Python {platform.python_version()}",
    }


def update_docs(result: dict[str, Any], command: str) -> None:
    tps, sps = result["tokensPerSecond"], result["secondsPerStep"]
    lines = [
        "## Training across pods: 2 pods against 1",
        "",
        f"`{command}`: the same job (kubetune's trainer, {result['examples']} conversations, {result['steps']} steps "
        f"per run, {result['repeat']} runs of each, alternating) on one pod with every core, on two pods of one "
        "process each (two torchruns meeting through the `PET_*` variables, as a `resources.nodes: 2` job's pods "
        "do; gloo all-reduce), and one rank alone with half the cores and no peer.",
        "",
        f"- model: {result['model']}; {result['settings']}",
        f"- 1 pod tokens/s: {tps['one-pod']} (median {result['onePodMedian']})",
        f"- 2 pods tokens/s: {tps['two-pods']} (median {result['twoPodsMedian']})",
        f"- **ratio 2 pods / 1 pod: {result['ratio']}**",
        f"- seconds per step: 2 pods {sps['two-pods']}, one rank alone {sps['one-rank-alone']}: **communication "
        f"share of a step {result['communicationShare']:.0%}** (all-reduce plus waiting for the slower rank)",
        "",
        f"Machine: {result['machine']}; measured {time.strftime('%Y-%m-%d')}. Both pods share the {CORES} cores "
        "the one pod had, so the ratio is what the gang costs on one machine (each rank computes with half the "
        "cores and then all-reduces), not what two real nodes gain: there each rank has a machine of its own and "
        "the expected gain is about 2 x (1 - communication share). A ratio above 1 here says that one process does "
        "not keep its second thread busy on matrices this small, while two ranks of one thread each do; with "
        "--repeat 1 it is one pair of runs, on a machine whose timings vary by a third from run to run.",
    ]
    replace_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubetune-bench-dist-") as tmp:
        result = run(args.steps, args.repeat, args.examples, Path(tmp))
    print(json.dumps(result, indent=2))
    (Path(__file__).parent / "results" / "distributed_scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_docs:
        update_docs(result, f"python bench/distributed_scaling.py --steps {args.steps} --repeat {args.repeat}")


if __name__ == "__main__":
    main()
