"""`make test`: every test, in shards that run side by side, each a pytest session of its own.

Most of the suite's time is spent waiting (a vLLM server starting, a pod being scheduled, a watch event arriving), so
two sessions on this 2-core machine finish in much less than one session's time. Each shard has its own local cluster,
operator, PostgreSQL and vLLM servers (the process node gives each cluster its own pod addresses), its own base
directory, and its own log; a shard's output is printed when it ends, whole when it failed, its summary otherwise.

    python hack/test_shards.py BASETEMP [PYTEST ARGS...]

Files are assigned whole, so module fixtures (a trained model, a vLLM Deployment) are built once. The e2e audit that
no kopf annotation was left (test_zz_no_kopf_state.py) runs last in every shard that runs the operator.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
E2E = "tests/e2e"
AUDIT = f"{E2E}/test_zz_no_kopf_state.py"
# The long e2e files with the session's serving Deployment and its mirror; everything else goes to the first shard.
SECOND = ["test_dashboard.py", "test_modelcomparison.py", "test_mirror.py", "test_finetunedmodel_serving.py",
          "test_helm_lifecycle.py", "test_trainingjob_distributed.py"]


def shards() -> list[list[str]]:
    e2e = sorted(p.name for p in (REPO / E2E).glob("test_*.py") if p.name != Path(AUDIT).name)
    missing = [name for name in SECOND if name not in e2e]
    if missing:
        raise SystemExit(f"hack/test_shards.py names e2e files that do not exist: {missing}")
    first = ["tests/unit", "tests/integration", *(f"{E2E}/{n}" for n in e2e if n not in SECOND), AUDIT]
    second = [*(f"{E2E}/{n}" for n in SECOND), AUDIT]
    return [first, second]


def main() -> int:
    base = Path(sys.argv[1])
    extra = sys.argv[2:]
    pytest = str(REPO / ".venv" / "bin" / "pytest")
    started = time.monotonic()
    running = []
    for index, paths in enumerate(shards()):
        root = base / f"shard{index}"
        root.mkdir(parents=True, exist_ok=True)
        log = base / f"shard{index}.log"
        print(f"shard {index}: {' '.join(paths)} (log {log})", flush=True)
        with log.open("wb") as out:
            # The JUnit report keeps every test's duration (the log shows the slowest 15); like the logs, it stays
            # with the base directory `make test` keeps when a run fails.
            argv = [pytest, f"--basetemp={root}", "--durations=15", f"--junitxml={base / f'shard{index}.xml'}",
                    *extra, *paths]
            proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        running.append((index, proc, log))
    failed = False
    for index, proc, log in running:
        code = proc.wait()
        text = log.read_text(errors="replace")
        took = time.monotonic() - started
        if code == 0:
            lines = text.splitlines()
            slowest = next((i for i, line in enumerate(lines) if line.startswith("=") and "slowest" in line),
                           len(lines))
            print(f"shard {index} passed after {took:.0f}s:", *lines[slowest:], sep="\n", flush=True)
        else:
            failed = True
            print(f"shard {index} FAILED (exit {code}) after {took:.0f}s; its output:\n{text}", flush=True)
    print(f"all shards done in {time.monotonic() - started:.0f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
