"""The dashboard's end-to-end pieces: `kubetune dashboard` as a process, headless Chromium driven by Playwright
(Debian's browser: Playwright's own download cannot be reached here), the chart's dashboard RBAC, and a real evaluator
run whose samples file the store's own writer puts into the mirror."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.deploy import NAMESPACE, helm_template

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DashboardProcess:
    """``kubetune dashboard`` in its own process, as an administrator runs it."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @classmethod
    def start(cls, database_url: str, log_path: Path, *extra: str, env: dict[str, str] | None = None,
              timeout: float = 60) -> DashboardProcess:
        port = free_port()
        log = log_path.open("ab")
        argv = [sys.executable, "-m", "kubetune.cli", "dashboard", "--port", str(port), "--refresh", "1",
                "--database-url", database_url, *extra]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        dashboard = cls(proc, f"http://127.0.0.1:{port}", log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"the dashboard exited with {proc.returncode}:\n{dashboard.log_tail()}")
            try:
                with urllib.request.urlopen(dashboard.url + "/healthz", timeout=2):
                    return dashboard
            except OSError:
                time.sleep(0.2)
        dashboard.stop()
        raise AssertionError(f"the dashboard did not answer within {timeout}s:\n{dashboard.log_tail()}")

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def install_dashboard_rbac(cluster: LocalCluster, actions: bool = True) -> str:
    """Apply the chart's dashboard ServiceAccount and RBAC (rendered by the real helm); return the account's name."""
    values = {"dashboard": {"enabled": True, "actions": {"enabled": actions}},
              "database": {"existingSecret": {"name": "mirror-db"}}}
    account = None
    for doc in yaml.safe_load_all(helm_template(values, include_crds=False)):
        if not doc or (doc["metadata"].get("labels") or {}).get("app.kubernetes.io/component") != "dashboard":
            continue
        if doc["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
            cluster.api.apply(doc)
            if doc["kind"] == "ServiceAccount":
                account = doc["metadata"]["name"]
    assert account, "the chart renders no dashboard ServiceAccount"
    return account


def dashboard_kubeconfig(cluster: LocalCluster, work: Path, actions: bool = True) -> Path:
    account = install_dashboard_rbac(cluster, actions)
    return cluster.service_account_kubeconfig(NAMESPACE, account, work / "dashboard.kubeconfig")


def chart_data(page: Any, canvas_id: str) -> Any:
    """What Chart.js holds for the chart on ``canvas_id``: each dataset's label and points."""
    return page.evaluate("""(id) => {
        const chart = Chart.getChart(id);
        if (!chart) return null;
        return {labels: chart.data.labels || null,
                datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data}))};
    }""", canvas_id)


def screenshot(page: Any, name: str) -> Path:
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
