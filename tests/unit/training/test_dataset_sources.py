"""Rows stream from a file, a directory of files, or an http(s) URL; unreadable sources fail by meaning."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kubetune.api.trainer import DatasetConfig
from kubetune.training.datasets.loading import load_dataset
from kubetune.training.datasets.records import Issue
from kubetune.training.datasets.sources import open_rows
from kubetune.training.errors import ConfigInvalid, DatasetInvalid, DatasetUnavailable


def pairs(n: int, start: int = 0) -> str:
    return "".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n" for i in range(start, start + n))


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_source_streams_and_validates(http_root: tuple[Path, str]) -> None:
    root, base = http_root
    (root / "train.jsonl").write_text(pairs(50) + "{broken\n")
    config = DatasetConfig(format="prompt-completion", uri=f"{base}/train.jsonl", max_rejected_fraction=0.05,
                           validation_split=0.1)
    data = load_dataset(config, counter=None, max_seq_length=None)
    assert data.report.rows == 51 and data.report.accepted == 50
    assert data.report.issues[0].line == 51 and data.report.issues[0].code == "invalid_json"
    assert len(data.train) + len(data.validation) == 50 and data.validation
    assert data.kind == "prompt-completion"


def test_http_404_is_permanent_and_hides_the_query_string(http_root: tuple[Path, str]) -> None:
    _, base = http_root
    config = DatasetConfig(format="text", uri=f"{base}/missing.jsonl?signature=secret")
    with pytest.raises(DatasetInvalid, match="answered 404") as caught, open_rows(config):
        pass
    assert "secret" not in caught.value.message


def test_unreachable_url_is_retriable() -> None:
    config = DatasetConfig(format="text", uri="http://127.0.0.1:9/data.jsonl")
    with pytest.raises(DatasetUnavailable, match="failed"), open_rows(config):
        pass


def test_directory_source_reads_every_jsonl_file_in_order(tmp_path: Path) -> None:
    (tmp_path / "part-2.jsonl").write_text(pairs(2, 10) + "[]\n")
    (tmp_path / "part-1.jsonl").write_text(pairs(3))
    (tmp_path / "README.md").write_text("not data")
    with open_rows(DatasetConfig(format="prompt-completion", path=str(tmp_path))) as rows:
        got = list(rows)
    assert [(f, n) for f, n, _ in got] == [("part-1.jsonl", 1), ("part-1.jsonl", 2), ("part-1.jsonl", 3),
                                         ("part-2.jsonl", 1), ("part-2.jsonl", 2), ("part-2.jsonl", 3)]
    issue = got[-1][2]
    assert isinstance(issue, Issue) and str(issue) == "part-2.jsonl line 3: (line): expected a JSON object, got array"


def test_missing_file_is_dataset_invalid(tmp_path: Path) -> None:
    with pytest.raises(DatasetInvalid, match="does not exist"):
        load_dataset(DatasetConfig(format="text", path=str(tmp_path / "nope.jsonl")), counter=None,
                     max_seq_length=None)


def test_rejection_policy(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(pairs(97) + '{"prompt": "x"}\n' * 3)
    loose = DatasetConfig(format="prompt-completion", path=str(path), max_rejected_fraction=0.03)
    data = load_dataset(loose, counter=None, max_seq_length=None)
    assert data.report.rejected == 3 and data.report.accepted == 97
    strict = loose.model_copy(update={"max_rejected_fraction": 0.02})
    with pytest.raises(DatasetInvalid, match=r"3 of 100 rows are invalid \(3.0%\), more than maxRejectedFraction "
                                             r"0.02") as caught:
        load_dataset(strict, counter=None, max_seq_length=None)
    assert caught.value.errors[0] == "line 98: completion: required field is missing"
    assert caught.value.exit_code == 3


def test_empty_or_all_bad_dataset_fails(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DatasetInvalid, match="the dataset is empty"):
        load_dataset(DatasetConfig(format="text", path=str(tmp_path / "empty.jsonl")), counter=None,
                     max_seq_length=None)
    (tmp_path / "bad.jsonl").write_text('{"x": 1}\n')
    with pytest.raises(DatasetInvalid, match="no valid example in 1 rows"):
        load_dataset(DatasetConfig(format="text", path=str(tmp_path / "bad.jsonl"), max_rejected_fraction=1),
                     counter=None, max_seq_length=None)


def test_postgres_source_needs_its_url_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_URL_VAR", raising=False)
    config = DatasetConfig.model_validate(
        {"format": "openai", "postgres": {"query": "select 1", "databaseUrlEnv": "NO_SUCH_URL_VAR"}})
    with pytest.raises(ConfigInvalid, match="environment variable NO_SUCH_URL_VAR"), open_rows(config):
        pass
