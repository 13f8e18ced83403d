"""The real ``helm`` against a cluster: install, upgrade and uninstall the chart the way a platform engineer does.

Helm's own state (repositories, cache, plugins) goes to a directory of the caller's, never to ``~``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .deploy import CHART, helm_binary


class HelmError(RuntimeError):
    """helm exited non-zero; the message carries its stderr."""


@dataclass
class Helm:
    kubeconfig: Path
    home: Path
    binary: Path = field(default_factory=helm_binary)

    def run(self, *args: str, timeout: float = 900) -> str:
        # HOME too: client-go's discovery cache goes to $HOME/.kube/cache, else to the working directory.
        env = {"HELM_CACHE_HOME": str(self.home / "cache"), "HELM_CONFIG_HOME": str(self.home / "config"),
               "HELM_DATA_HOME": str(self.home / "data"), "HOME": str(self.home), "PATH": "/usr/bin:/bin"}
        argv = [str(self.binary), "--kubeconfig", str(self.kubeconfig), *args]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
        if done.returncode != 0:
            raise HelmError(f"helm {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr.strip()}")
        return done.stdout

    @staticmethod
    def _values(values: dict[str, Any] | None) -> list[str]:
        return [arg for key, value in (values or {}).items() for arg in ("--set-json", f"{key}={json.dumps(value)}")]

    def install(self, release: str, namespace: str, chart: Path | str = CHART, values: dict[str, Any] | None = None,
                timeout: str = "10m") -> str:
        """``helm install --wait``: returns once the hooks ran and the operator's pods are ready."""
        return self.run("install", release, str(chart), "--namespace", namespace, "--create-namespace", "--wait",
                        "--timeout", timeout, *self._values(values))

    def upgrade(self, release: str, namespace: str, chart: Path | str = CHART, values: dict[str, Any] | None = None,
                timeout: str = "10m") -> str:
        return self.run("upgrade", release, str(chart), "--namespace", namespace, "--wait", "--timeout", timeout,
                        *self._values(values))

    def uninstall(self, release: str, namespace: str, timeout: str = "10m") -> str:
        return self.run("uninstall", release, "--namespace", namespace, "--wait", "--timeout", timeout)

    def history(self, release: str, namespace: str) -> list[dict[str, Any]]:
        return list(json.loads(self.run("history", release, "--namespace", namespace, "--output", "json")))

    def lint(self, chart: Path | str = CHART, values: dict[str, Any] | None = None) -> str:
        return self.run("lint", "--strict", str(chart), *self._values(values))
