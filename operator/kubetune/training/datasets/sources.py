"""Where rows come from: a local file or directory (inline rows, ConfigMaps and PVC files are all mounted or written
there by the operator), an http(s) URL, or a Postgres query. Each is read as a stream of rows."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kubetune.api.trainer import DatasetConfig, PostgresQuery
from kubetune.training.errors import ConfigInvalid, DatasetInvalid, DatasetUnavailable

from .jsonl import Row, read_jsonl
from .mapping import RowBuilder
from .postgres import open_query

HTTP_TIMEOUT_SECONDS = 60
# A directory source reads these files, in name order.
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


@contextmanager
def open_rows(dataset: DatasetConfig) -> Iterator[Iterator[Row]]:
    """The rows of the configured source, streamed; the source is closed when the block ends."""
    if dataset.path is not None:
        yield _file_rows(Path(dataset.path))
    elif dataset.uri is not None:
        with _open_url(dataset.uri) as response:
            yield read_jsonl(response)
    elif dataset.postgres is not None:
        with query_rows(dataset.postgres, dataset.format) as rows:
            yield rows
    else:  # the config model makes this unreachable
        raise ConfigInvalid("dataset has no source")


def _file_rows(path: Path) -> Iterator[Row]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in JSONL_SUFFIXES)
        if not files:
            raise DatasetInvalid(f"dataset directory {path} has no {'/'.join(JSONL_SUFFIXES)} files")
        for file in files:
            with file.open("rb") as stream:
                yield from read_jsonl(stream, file=file.name)
        return
    try:
        stream = path.open("rb")
    except FileNotFoundError as e:
        raise DatasetInvalid(f"dataset file {path} does not exist") from e
    except OSError as e:
        raise DatasetUnavailable(f"cannot read dataset file {path}: {e.strerror}") from e
    with stream:
        yield from read_jsonl(stream)


@contextmanager
def _open_url(uri: str) -> Iterator[http.client.HTTPResponse]:
    request = urllib.request.Request(uri, headers={"User-Agent": "kubetune-trainer", "Accept-Encoding": "identity"})
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS)
    except urllib.error.HTTPError as e:
        # A 4xx other than timeout/throttling will answer the same next time: fail the job instead of retrying.
        permanent = 400 <= e.code < 500 and e.code not in (408, 429)
        error = DatasetInvalid if permanent else DatasetUnavailable
        raise error(f"GET {_redact(uri)} answered {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise DatasetUnavailable(f"GET {_redact(uri)} failed: {getattr(e, 'reason', e)}") from e
    with response:
        yield response


def _redact(uri: str) -> str:
    """The URL without its query string or credentials, which may carry a signature or a token."""
    scheme, _, rest = uri.partition("://")
    host_path = rest.split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host_path}"


@contextmanager
def query_rows(source: PostgresQuery, fmt: str) -> Iterator[Iterator[Row]]:
    """Rows of a Postgres query, mapped into ``fmt``; the line number of a row is its 1-based position."""
    url = os.environ.get(source.database_url_env)
    if not url:
        raise ConfigInvalid(f"environment variable {source.database_url_env} (the dataset database URL) is not set")
    with ExitStack() as stack:
        result = stack.enter_context(
            open_query(url, source.query, timeout_seconds=source.statement_timeout_seconds,
                       fetch_size=source.fetch_size)
        )
        builder = RowBuilder(fmt, source.mapping, result.columns)

        def rows() -> Iterator[Row]:
            number = 0
            for batch in result.batches:
                for row in batch:
                    number += 1
                    yield None, number, builder.record(row)

        yield rows()
