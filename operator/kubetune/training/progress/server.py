"""The HTTP endpoint the operator polls: ``/progress`` (JSON), ``/history?since=<step>`` (every logged step, JSON),
``/metrics`` (Prometheus text), ``/healthz``."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from kubetune.api.trainer import TrainingHistory

from .tracker import ProgressTracker

log = logging.getLogger(__name__)

PHASES = ("Starting", "Validating", "Loading", "Training", "Saving", "Succeeded", "Failed")
# Progress field -> (metric name, help). Each is a gauge, absent until the field is known.
GAUGES = {
    "step": ("kubetune_trainer_step", "Optimizer steps done."),
    "total_steps": ("kubetune_trainer_total_steps", "Optimizer steps planned."),
    "epoch": ("kubetune_trainer_epoch", "Fractional epoch reached."),
    "loss": ("kubetune_trainer_loss", "Training loss of the latest logging window."),
    "eval_loss": ("kubetune_trainer_eval_loss", "Latest loss on the validation split."),
    "learning_rate": ("kubetune_trainer_learning_rate", "Current learning rate."),
    "tokens_per_second": ("kubetune_trainer_tokens_per_second", "Training throughput since this pod started."),
    "percent": ("kubetune_trainer_progress_percent", "step / totalSteps, in percent."),
    "eta_seconds": ("kubetune_trainer_eta_seconds", "Estimated seconds until training ends."),
    "checkpoint_step": ("kubetune_trainer_checkpoint_step", "Step of the newest valid checkpoint."),
    "resumed_from_step": ("kubetune_trainer_resumed_from_step", "Step this pod resumed from."),
}


def bind_host(configured: str | None) -> str:
    """The address to listen on: the configured one, else the pod's IP (the test node gives each pod its own
    loopback IP on a shared network), else every interface."""
    return configured or os.environ.get("POD_IP") or "0.0.0.0"


class _ProgressCollector(Collector):
    """Reads a snapshot at scrape time, so the training loop never touches a metric."""

    def __init__(self, tracker: ProgressTracker) -> None:
        self.tracker = tracker

    def collect(self) -> Iterator[Metric]:
        progress = self.tracker.snapshot()
        info = InfoMetricFamily("kubetune_trainer", "The training job this pod runs.")
        info.add_metric([], self.tracker.labels)
        yield info
        phase = GaugeMetricFamily("kubetune_trainer_phase", "1 for the current phase.", labels=["phase"])
        for name in PHASES:
            phase.add_metric([name], 1.0 if progress.phase == name else 0.0)
        yield phase
        for field, (name, doc) in GAUGES.items():
            value = getattr(progress, field)
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=float(value))


class ProgressServer:
    """Serves the tracker on a daemon thread. ``port`` is the bound port (useful with port 0)."""

    def __init__(self, tracker: ProgressTracker, host: str, port: int) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_ProgressCollector(tracker))
        self._server = ThreadingHTTPServer((host, port), _handler(tracker, registry))
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="kubetune-progress", daemon=True)

    def start(self) -> ProgressServer:
        self._thread.start()
        log.info("progress on http://%s:%d/progress", self.host, self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(tracker: ProgressTracker, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/progress":
                body = json.dumps(tracker.snapshot().model_dump(mode="json", by_alias=True)).encode()
                self._send(200, "application/json", body)
            elif path == "/history":
                since = _since(query)
                if since is None:
                    self._send(400, "text/plain", b"since must be a non-negative integer step\n")
                    return
                history = TrainingHistory(points=tracker.history(since))
                self._send(200, "application/json", history.model_dump_json(by_alias=True).encode())
                tracker.history_served()
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path in ("/healthz", "/readyz"):
                self._send(200, "text/plain", b"ok\n")
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("progress request: " + format, *args)

    return Handler


def _since(query: str) -> int | None:
    values = parse_qs(query).get("since", ["0"])
    try:
        since = int(values[-1])
    except ValueError:
        return None
    return since if since >= 0 else None
