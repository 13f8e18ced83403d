"""The evaluator's /samples endpoint, over real HTTP: every recorded sample with its index (its place in the samples
file, the same after a resume), from any index on; and the wait at the end until a reader has taken them all."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from kubetune.evaluation.progress import ProgressServer, ProgressTracker


def get(server: ProgressServer, path: str) -> dict:
    with urllib.request.urlopen(f"http://{server.host}:{server.port}{path}", timeout=5) as resp:
        return json.loads(resp.read())


def test_samples_are_served_from_any_index_with_their_place_in_the_file() -> None:
    tracker = ProgressTracker(comparison="c")
    tracker.add_samples([{"id": "a", "attempt": 1}, {"id": "b", "attempt": 1}])  # resumed from the file
    server = ProgressServer(tracker, "127.0.0.1", 0).start()
    try:
        assert get(server, "/samples") == {"samples": [{"index": 0, "id": "a", "attempt": 1},
                                                       {"index": 1, "id": "b", "attempt": 1}], "total": 2}
        tracker.add_samples([{"id": "c", "attempt": 2}])
        assert get(server, "/samples?since=2") == {"samples": [{"index": 2, "id": "c", "attempt": 2}], "total": 3}
        assert get(server, "/samples?since=9")["samples"] == []
        try:
            get(server, "/samples?since=x")
            raise AssertionError("a bad index must be refused")
        except urllib.error.HTTPError as e:
            assert e.code == 400
    finally:
        server.stop()


def test_the_end_waits_for_a_reader_to_take_every_sample() -> None:
    tracker = ProgressTracker(comparison="c")
    tracker.add_samples([{"id": "a"}, {"id": "b"}])
    assert not tracker.wait_samples_delivered(0.05), "nobody has read them"
    tracker.samples_since(0)
    assert tracker.wait_samples_delivered(0.05)
    tracker.add_samples([{"id": "c"}])
    reader = threading.Timer(0.2, lambda: tracker.samples_since(2))
    reader.start()
    started = time.monotonic()
    assert tracker.wait_samples_delivered(5)
    assert time.monotonic() - started < 4, "released by the read, not by the timeout"
