"""Live progress: a thread-safe ``ProgressTracker``, the trainer callback that feeds it, and the HTTP server that
publishes it as JSON (``/progress``) and Prometheus text (``/metrics``) on one port.

Reporting never blocks or fails training: the callback does O(1) work under a short lock and swallows its own errors;
the server runs on a daemon thread and only reads snapshots.
"""

from .callback import ProgressCallback
from .server import ProgressServer, bind_host
from .tracker import ProgressTracker

__all__ = ["ProgressCallback", "ProgressServer", "ProgressTracker", "bind_host"]
