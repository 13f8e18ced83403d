"""What a PID namespace per container costs the process node: container start-to-exit time and the memory of the
init that stays beside each command.

Side by side, interleaved: the node's own runtime command (``unshare --mount --pid --fork --mount-proc`` with the
launcher as the namespace's init) against the same launcher in a mount namespace only (how containers started before
issue 9). The command is ``true``, so the time is the runtime's own. The init's memory is its proportional set size
(PSS: its share of pages it shares with others) while a container sleeps. Needs root, as the process node does.

    .venv/bin/python bench/container_start.py [--runs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from docs_section import replace_section  # bench/ is on the path when a benchmark runs as a script

from kubetune_devcluster.processnode.containers import container_init, runtime_argv, write_launch_spec

RESULTS = Path(__file__).parent / "results" / "container_start.json"
SECTION = "container-start"
PID_NAMESPACE_FLAGS = ("--pid", "--fork", "--mount-proc", "--kill-child")


def argv(spec: Path, pid_namespace: bool) -> list[str]:
    command = runtime_argv(spec)
    return command if pid_namespace else [part for part in command if part not in PID_NAMESPACE_FLAGS]


def start(workdir: Path, command: list[str], pid_namespace: bool) -> subprocess.Popen[bytes]:
    spec = workdir / "launch.json"  # the launcher deletes it once read
    write_launch_spec(spec, command, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, [], "/")
    return subprocess.Popen(argv(spec, pid_namespace), stdin=subprocess.DEVNULL, start_new_session=True)


def start_to_exit(workdir: Path, pid_namespace: bool) -> float:
    began = time.perf_counter()
    code = start(workdir, ["true"], pid_namespace).wait()
    assert code == 0, code
    return time.perf_counter() - began


def init_pss_kib(workdir: Path) -> int:
    proc = start(workdir, ["sleep", "30"], True)
    try:
        deadline = time.monotonic() + 10
        while (init := container_init(proc.pid)) is None or not _has_child(init):
            assert time.monotonic() < deadline, "the container did not start"
            time.sleep(0.05)
        rollup = Path(f"/proc/{init}/smaps_rollup").read_text().splitlines()
        return next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _has_child(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"mount": [], "pid": []}
    with tempfile.TemporaryDirectory(prefix="kubetune-bench-") as scratch:
        workdir = Path(scratch)
        for mode in ("mount", "pid"):  # warm the page cache for both before measuring
            start_to_exit(workdir, mode == "pid")
        for _ in range(args.runs):
            for mode in ("mount", "pid"):
                times[mode].append(start_to_exit(workdir, mode == "pid"))
        pss = init_pss_kib(workdir)
    median = {mode: statistics.median(values) * 1000 for mode, values in times.items()}
    p95 = {mode: sorted(values)[int(0.95 * (len(values) - 1))] * 1000 for mode, values in times.items()}
    result = {"runs": args.runs, "median_ms": median, "p95_ms": p95, "ratio": median["pid"] / median["mount"],
              "init_pss_mib": pss / 1024}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    lines = [
        "## Process node: a PID namespace per container",
        "",
        f"`.venv/bin/python bench/container_start.py --runs {args.runs}` (start to exit of a container running `true`,"
        " interleaved):",
        "",
        "| runtime | median | p95 |",
        "|---|---|---|",
        f"| mount namespace only (before) | {median['mount']:.0f} ms | {p95['mount']:.0f} ms |",
        f"| PID + mount namespace, launcher as init | {median['pid']:.0f} ms | {p95['pid']:.0f} ms |",
        "",
        f"Ratio {result['ratio']:.2f}x. The init stays beside each container's command: "
        f"{result['init_pss_mib']:.1f} MiB PSS.",
    ]
    replace_section(SECTION, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
