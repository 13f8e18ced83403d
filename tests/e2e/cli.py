"""Running the ``kubetune`` CLI as a user does: a separate process, against the test cluster's kubeconfig."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kubetune_devcluster.controlplane import LocalCluster


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    @property
    def error_line(self) -> str:
        """The one line a failing command prints on stderr (asserting it is one line, without a traceback)."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in self.err, f"expected one error line, got:\n{self.err}"
        return lines[0]


def kubetune(cluster: LocalCluster | None, *args: str | Path, timeout: float = 600,
             kubeconfig: Path | None = None) -> CliRun:
    env = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": str(kubeconfig or (cluster.kubeconfig if cluster else ""))}
    done = subprocess.run([sys.executable, "-m", "kubetune.cli", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return CliRun(done.returncode, done.stdout, done.stderr)
