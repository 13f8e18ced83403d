"""Benchmark: ``kubetune dataset export`` against ``psql \\copy`` of the same query, side by side.

Goal (docs/benchmarks.md): at least 50 % of psql's speed, under 150 MB peak RSS, for 1 M rows.

    .venv/bin/python bench/export.py [--rows 1000000] [--repeat 5] [--no-docs]

It starts a private Postgres (or uses --database-url), fills a table with ``--rows`` rows, then runs the two exports
alternately, each in its own process, timing wall clock and reading each process's peak RSS (VmHWM). The
kubetune export writes the openai format (a JSON object per row, with its progress bar on); psql writes its tab
separated text. The output of the last kubetune run is validated with ``kubetune dataset validate``. It prints a JSON
result and rewrites the "Trainer: dataset export" section of docs/benchmarks.md.
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

REPO = Path(__file__).resolve().parents[1]
QUERY = "select prompt, answer from conquests where gold_star"
SECTION = "trainer-export"


def fill(url: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table if exists conquests")
        conn.execute("create table conquests (id bigserial primary key, prompt text, answer text, gold_star bool)")
        # Realistic text: quotes, a backslash, a newline and non-ASCII, so escaping is part of the measurement.
        conn.execute(
            "insert into conquests (prompt, answer, gold_star) select "
            "'Customer ' || g || E' asks: \"where is order #' || (g * 7) || E'?\" ' || repeat('context ', 1 + g %% 5), "
            "E'Order ' || (g * 7) || E' ships on Tuesday.\\nTracking: C:\\\\orders\\\\' || g || ' — merci', "
            "true from generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("vacuum analyze conquests")


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process.

    The peak is the process's own VmHWM, polled: ``wait4``'s ru_maxrss would start from this (parent) process's RSS,
    which a forked child inherits as its high-water mark.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    status, peak_kb = Path(f"/proc/{proc.pid}/status"), 0
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except OSError:
            break
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {stderr.decode(errors='replace')[-2000:]}")
    return elapsed, peak_kb / 1024


def run(url: str, rows: int, repeat: int, workdir: Path) -> dict[str, Any]:
    psql_out, kt_out = workdir / "psql.tsv", workdir / "kubetune.jsonl"
    psql = ["psql", url, "-X", "-q", "-c", f"\\copy ({QUERY}) to '{psql_out}'"]
    kubetune = [sys.executable, "-m", "kubetune.cli", "dataset", "export", "--query", QUERY, "--format", "openai",
                "--mapping", "completion=answer", "-o", str(kt_out)]
    env = {**os.environ, "KUBETUNE_DATABASE_URL": url}
    timed(psql)  # warm the table into the page cache for both
    samples: dict[str, list[float]] = {"psql": [], "kubetune": []}
    rss: dict[str, list[float]] = {"psql": [], "kubetune": []}
    for i in range(repeat):
        order = [("psql", psql, None), ("kubetune", kubetune, env)]
        for name, argv, e in order if i % 2 == 0 else order[::-1]:
            seconds, peak = timed(argv, e)
            samples[name].append(seconds)
            rss[name].append(peak)
    lines = sum(1 for _ in kt_out.open("rb"))
    validate = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "dataset", "validate", str(kt_out), "--format", "openai"],
        capture_output=True, text=True,
    )
    psql_s, kt_s = statistics.median(samples["psql"]), statistics.median(samples["kubetune"])
    return {
        "benchmark": "dataset export, Postgres to JSON Lines",
        "rows": rows,
        "repeat": repeat,
        "query": QUERY,
        "psqlSeconds": [round(s, 3) for s in samples["psql"]],
        "kubetuneSeconds": [round(s, 3) for s in samples["kubetune"]],
        "psqlMedianSeconds": round(psql_s, 3),
        "kubetuneMedianSeconds": round(kt_s, 3),
        "kubetuneRowsPerSecond": round(rows / kt_s),
        "speedRatio": round(psql_s / kt_s, 3),
        "speedRatioGoal": 0.5,
        "kubetunePeakRssMB": round(max(rss["kubetune"]), 1),
        "psqlPeakRssMB": round(max(rss["psql"]), 1),
        "peakRssGoalMB": 150,
        "outputBytes": {"psql": psql_out.stat().st_size, "kubetune": kt_out.stat().st_size},
        "outputLines": lines,
        "outputValidates": validate.returncode == 0 and lines == rows,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }


def update_docs(result: dict[str, Any], command: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (between its markers), leaving the rest alone."""
    speed_ok, memory_ok = result["speedRatio"] >= 0.5, result["kubetunePeakRssMB"] < 150
    lines = [
        "## Trainer: dataset export from Postgres",
        "",
        f"`{command}` exports {result['rows']:,} rows of `{QUERY}` as openai-format JSON Lines, alternating with "
        "`psql \\copy` of the same query (tab-separated text), each run in its own process "
        f"({result['repeat']} runs each, medians). Peak RSS is each process's own VmHWM, polled every 5 ms.",
        "",
        "| | psql \\copy | kubetune export | goal |",
        "|---|---|---|---|",
        f"| median wall time | {result['psqlMedianSeconds']} s | {result['kubetuneMedianSeconds']} s | |",
        f"| speed ratio (psql time / kubetune time) | | **{result['speedRatio']}** | ≥ 0.5 |",
        f"| peak RSS (VmHWM) | {result['psqlPeakRssMB']} MB | **{result['kubetunePeakRssMB']} MB** | < 150 MB |",
        f"| output | {result['outputBytes']['psql']:,} bytes | {result['outputBytes']['kubetune']:,} bytes | |",
        "",
        f"Output validates with `kubetune dataset validate`: {'yes' if result['outputValidates'] else 'NO'}. "
        f"Speed goal {'met' if speed_ok else 'NOT met'}; memory goal {'met' if memory_ok else 'NOT met'}. "
        f"Machine: {result['machine']}; measured "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "Where the time goes: psql writes the COPY text it receives as it is; the export decodes each value, escapes "
        "it as a JSON string (the C encoder json.dumps uses, one call per value, the JSON around it pre-rendered), and "
        "encodes the line, all in one Python process while the next batch is fetched on a thread. That is about "
        "1.4 s of CPU per million of these rows (`time.process_time`); a prototype that read `COPY ... TO STDOUT` "
        "and rewrote it with bulk byte replacements still needed 1.1 to 1.2 s, so the server-side cursor stays. On "
        "this machine's 2 cores, shared with the Postgres server, the export is CPU-bound: memory stays flat with a "
        "wide margin, the speed goal is not reached.",
    ]
    replace_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", help="use this database instead of starting one (the table is replaced)")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubetune-bench-export-") as tmp:
        server = None
        url = args.database_url
        if url is None:
            from kubetune_devcluster.postgres import start_postgres

            server = start_postgres()  # its own directory, readable by the postgres user
            url = server.url
        try:
            fill(url, args.rows)
            result = run(url, args.rows, args.repeat, Path(tmp))
        finally:
            if server is not None:
                server.stop()
    print(json.dumps(result, indent=2))
    if not args.no_docs:
        update_docs(result, f"python bench/export.py --rows {args.rows} --repeat {args.repeat}")


if __name__ == "__main__":
    main()
