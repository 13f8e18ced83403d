"""Run the kubetune operator as a separate process against a cluster, so tests can kill it at any moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .lifetime import die_with_parent
from .postgres import free_port


@dataclass
class OperatorProcess:
    kubeconfig: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    namespaces: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    liveness_port: int = 0
    metrics_port: int = 0
    starts: int = 0

    def start(self, wait: bool = True) -> OperatorProcess:
        self.liveness_port = free_port()
        argv = [sys.executable, "-m", "kubetune.operator", "--kubeconfig", str(self.kubeconfig),
                "--liveness", f"http://127.0.0.1:{self.liveness_port}/healthz"]
        for ns in self.namespaces:
            argv += ["--namespace", ns]
        self.metrics_port = free_port()
        # As the Helm chart runs it (charts/kubetune/templates/deployment.yaml). Its embedded mirror (SQLite, when no
        # KUBETUNE_DATABASE_URL is given) lives beside its log, never in the user's ~/.local/state.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "MALLOC_ARENA_MAX": "2",
               "KUBETUNE_METRICS_PORT": str(self.metrics_port),
               "KUBETUNE_STATE_DIR": str(self.log_path.parent / "state"), **self.env}
        with self.log_path.open("ab") as out:
            out.write(f"\n===== operator start {self.starts + 1} =====\n".encode())
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         preexec_fn=die_with_parent)
        self.starts += 1
        if wait:
            self.wait_live()
        return self

    def wait_live(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"operator not live after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful shutdown, as when a node dies under it."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    @property
    def rss_bytes(self) -> int:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0
