"""Every benchmark under bench/ still starts: its imports resolve and its arguments parse (`--help`). A rename in the
package or the test ground (as `Credentials` -> `Connection` once did to bench/mirror_lag.py) fails here, not on
the day someone measures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name != "docs_section.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_the_benchmark_starts(script: Path) -> None:
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


def test_operator_latency_reads_when_each_job_was_created_from_the_operator_log() -> None:
    """The baseline's start (the Job's create call returning) comes from the operator's log line, as kopf formats it."""
    sys.path.insert(0, str(BENCH))
    try:
        import operator_latency
    finally:
        sys.path.remove(str(BENCH))
    lines = [
        "[2026-12-02 14:16:29,440] kubetune.controllers [INFO    ] created Job bench/a-trainer for TrainingJob a",
        "[2026-12-02 14:16:29,458] kubetune.controllers [INFO    ] created Job other/b-trainer for TrainingJob b",
        "[2026-12-02 14:16:30,001] kubetune.controllers [INFO    ] created Job bench/a-trainer for TrainingJob a",
        "[2026-12-02 14:16:30,002] kubetune.controllers [INFO    ] created Job bench/c-trainer for TrainingJob c",
        "[2026-12-02 14:16:30,003] kopf.objects         [INFO    ] created Job bench/d-trainer",
    ]
    applied = operator_latency.jobs_applied(lines, "bench")
    assert sorted(applied) == ["a", "c"]  # another namespace's and an unrelated line are not read
    assert applied["c"] - applied["a"] == pytest.approx(0.562, abs=1e-6)  # milliseconds kept; the first line wins
