"""The part of the kubelet's HTTPS API that the API server proxies ``pods/log`` to, so ``kubectl logs`` and
``kubetune logs`` work against the process node as they do against a real node.

``GET /containerLogs/{namespace}/{pod}/{container}`` with the kubelet's query parameters ``follow``, ``tailLines``
and ``limitBytes`` (``timestamps`` and ``sinceSeconds`` are accepted and ignored: the node keeps plain logs). Only
clients with a certificate from the cluster's CA are served (the API server's --kubelet-client-certificate).
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

log = logging.getLogger(__name__)

_PATH = re.compile(r"^/containerLogs/(?P<namespace>[^/]+)/(?P<pod>[^/]+)/(?P<container>[^/]+)$")
FOLLOW_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ContainerLog:
    """Where a container's output is, and whether the process writing it still runs."""

    path: Path
    running: Callable[[], bool]
    waiting_reason: str | None = None  # set when the container has not started yet


LogFinder = Callable[[str, str, str], ContainerLog | None]


def tail_offset(path: Path, lines: int) -> int:
    """The byte offset where the last ``lines`` lines of the file start."""
    data = path.read_bytes()
    if lines <= 0:
        return len(data)
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    cut = end
    for _ in range(lines):
        cut = data.rfind(b"\n", 0, cut)
        if cut < 0:
            return 0
    return cut + 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        log.debug("kubelet api: " + format, *args)

    def _plain(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def do_GET(self) -> None:
        url = urlparse(self.path)
        match = _PATH.match(url.path)
        if not match:
            self._plain(404, f"not found: {url.path}")
            return
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        ns, pod, container = match["namespace"], match["pod"], match["container"]
        found = self.server.find_log(ns, pod, container)
        if found is None:
            self._plain(404, f'pod "{pod}" or its container "{container}" is not on this node')
            return
        if found.waiting_reason is not None or not found.path.exists():
            reason = found.waiting_reason or "ContainerCreating"
            self._plain(400, f'container "{container}" in pod "{pod}" is waiting to start: {reason}')
            return
        follow = query.get("follow") in ("true", "1")
        limit = int(query["limitBytes"]) if query.get("limitBytes", "").isdigit() else None
        offset = tail_offset(found.path, int(query["tailLines"])) if query.get("tailLines", "").isdigit() else 0
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            with found.path.open("rb") as stream:
                stream.seek(offset)
                while True:
                    running = found.running()  # read before the file, so output written just before exit is sent
                    data = stream.read(65536 if limit is None else min(65536, limit - sent))
                    if data:
                        self._chunk(data)
                        sent += len(data)
                        if limit is not None and sent >= limit:
                            break
                        continue
                    if not follow or not running or self.server.stopping.is_set():
                        break
                    time.sleep(FOLLOW_POLL_SECONDS)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the reader went away (kubectl logs -f interrupted)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, find_log: LogFinder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.find_log = find_log
        self.stopping = threading.Event()


class KubeletApi:
    """Serves container logs over HTTPS on 127.0.0.1 (the node's InternalIP) on a free port."""

    def __init__(self, find_log: LogFinder, cert_file: str, key_file: str, client_ca_file: str) -> None:
        self._server = _Server(find_log)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.load_verify_locations(client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, name="kubelet-api", daemon=True).start()
        log.info("kubelet API (container logs) on https://127.0.0.1:%d", self.port)

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
