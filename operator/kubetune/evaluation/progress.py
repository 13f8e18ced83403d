"""Live progress: a thread-safe tracker of ``EvaluatorProgress`` and the HTTP server that publishes it as JSON
(``/progress``), Prometheus text (``/metrics``) and ``/healthz`` on one port, the way the trainer does, so the
operator pulls both kinds alike. The server runs on a daemon thread and reads snapshots only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from kubetune.api.evaluator import EvaluatorProgress, ModelProgress, SamplesPage

log = logging.getLogger(__name__)

PHASES = ("Starting", "Loading", "Running", "Scoring", "Succeeded", "Failed")
GAUGES = {
    "done": ("kubetune_evaluator_samples_done", "Prompts answered by both models (and judged)."),
    "total": ("kubetune_evaluator_samples_total", "Prompts to answer."),
    "in_flight": ("kubetune_evaluator_requests_in_flight", "Requests in flight."),
    "errors": ("kubetune_evaluator_request_errors", "Failed request attempts, retried or not."),
    "win_rate": ("kubetune_evaluator_win_rate", "Running adjusted win rate of the candidate."),
}
MODEL_GAUGES = {
    "completed": ("kubetune_evaluator_model_completed", "Requests answered."),
    "errors": ("kubetune_evaluator_model_failed", "Requests failed after their retries."),
    "ttft_p50_ms": ("kubetune_evaluator_model_ttft_p50_ms", "Median time to first token."),
    "latency_p50_ms": ("kubetune_evaluator_model_latency_p50_ms", "Median end-to-end latency."),
    "output_tokens_per_second": ("kubetune_evaluator_model_output_tokens_per_second", "Output tokens per second."),
    "exact_match": ("kubetune_evaluator_model_exact_match", "Mean normalised exact match."),
    "token_f1": ("kubetune_evaluator_model_token_f1", "Mean token F1."),
    "rouge_l": ("kubetune_evaluator_model_rouge_l", "Mean ROUGE-L F1."),
}


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bind_host(configured: str | None) -> str:
    """The configured address, else the pod's IP (the test node gives each pod a loopback IP), else all."""
    return configured or os.environ.get("POD_IP") or "0.0.0.0"


class ProgressTracker:
    """Holds the progress; ``update`` and ``snapshot`` are O(1) under a short lock."""

    def __init__(self, **labels: str) -> None:
        self._lock = threading.Lock()
        self._progress = EvaluatorProgress(updated_at=now_rfc3339())
        self.labels = labels
        self._samples: list[dict[str, Any]] = []
        self._delivered = threading.Condition(self._lock)
        self._delivered_through = 0  # samples [0, n) have been read from /samples

    def add_samples(self, records: list[dict[str, Any]]) -> None:
        """Samples as the samples file holds them (redacted), in its order: /samples serves them with their index."""
        with self._lock:
            self._samples.extend(records)

    def samples_since(self, index: int) -> SamplesPage:
        with self._lock:
            page = [{"index": i, **record} for i, record in enumerate(self._samples[index:], start=max(0, index))]
            total = len(self._samples)
            if index + len(page) >= total and total > self._delivered_through:
                self._delivered_through = total
                self._delivered.notify_all()
            return SamplesPage(samples=page, total=total)

    def wait_samples_delivered(self, timeout: float) -> bool:
        """Wait until every sample has been read from /samples at least once, or ``timeout`` seconds."""
        with self._lock:
            return self._delivered.wait_for(lambda: self._delivered_through >= len(self._samples), timeout)

    def update(self, baseline: ModelProgress | None = None, candidate: ModelProgress | None = None,
               **fields: Any) -> None:
        with self._lock:
            changes: dict[str, Any] = {**fields, "updated_at": now_rfc3339()}
            if baseline is not None:
                changes["baseline"] = baseline
            if candidate is not None:
                changes["candidate"] = candidate
            self._progress = self._progress.model_copy(update=changes)

    def snapshot(self) -> EvaluatorProgress:
        with self._lock:
            return self._progress


class _Collector(Collector):
    def __init__(self, tracker: ProgressTracker) -> None:
        self.tracker = tracker

    def collect(self) -> Iterator[Metric]:
        progress = self.tracker.snapshot()
        info = InfoMetricFamily("kubetune_evaluator", "The comparison this pod evaluates.")
        info.add_metric([], self.tracker.labels)
        yield info
        phase = GaugeMetricFamily("kubetune_evaluator_phase", "1 for the current phase.", labels=["phase"])
        for name in PHASES:
            phase.add_metric([name], 1.0 if progress.phase == name else 0.0)
        yield phase
        for field, (name, doc) in GAUGES.items():
            value = getattr(progress, field)
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=float(value))
        for field, (name, doc) in MODEL_GAUGES.items():
            family = GaugeMetricFamily(name, doc, labels=["model"])
            for role in ("baseline", "candidate"):
                value = getattr(getattr(progress, role), field)
                if value is not None:
                    family.add_metric([role], float(value))
            yield family


class ProgressServer:
    """Serves the tracker on a daemon thread. ``port`` is the bound port (useful with port 0)."""

    def __init__(self, tracker: ProgressTracker, host: str, port: int) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(tracker))
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
            path = self.path.split("?", 1)[0]
            if path == "/progress":
                body = json.dumps(tracker.snapshot().model_dump(mode="json", by_alias=True)).encode()
                self._send(200, "application/json", body)
            elif path == "/samples":
                query = parse_qs(self.path.partition("?")[2])
                try:
                    since = max(0, int((query.get("since") or ["0"])[0]))
                except ValueError:
                    self._send(400, "text/plain", b"since must be an integer\n")
                    return
                self._send(200, "application/json", tracker.samples_since(since).model_dump_json(by_alias=True)
                           .encode())
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
