"""The Postgres source (the predecessor's "gold star" export): a read-only, time-bounded, streaming query whose
columns are mapped into a dataset format, used by the trainer and by ``kubetune dataset export``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from trainer_harness import MEMO, job_config

from kubetune.api.trainer import DatasetConfig, TrainerConfig, TrainerResult
from kubetune.cli import main as cli
from kubetune.training.datasets.loading import load_dataset
from kubetune.training.errors import DatasetInvalid, DatasetUnavailable
from kubetune.training.main import execute

pytestmark = pytest.mark.postgres

URL_ENV = "KUBETUNE_TEST_DATASET_URL"


def create_conquests(url: str, rows: int = 0) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table conquests (id serial primary key, prompt text, answer text, gold_star bool)")
        with conn.cursor() as cur:
            cur.executemany("insert into conquests (prompt, answer, gold_star) values (%s, %s, %s)",
                            [(p, a, True) for p, a in MEMO * 2] + [("not starred", "skip me", False)]
                            + [("NULL answer", None, True)])
        if rows:
            conn.execute(
                "insert into conquests (prompt, answer, gold_star) select 'Question ' || g || E': \"why\" \\\\ é?', "
                "E'Answer ' || g || E'\\nwith a second line', true from generate_series(1, %s) g", (rows,))


def postgres_dataset(query: str, **extra: object) -> DatasetConfig:
    return DatasetConfig.model_validate({
        "format": "openai", "maxRejectedFraction": 0.1,
        "postgres": {"databaseUrlEnv": URL_ENV, "query": query, "mapping": {"completion": "answer"}, "fetchSize": 4,
                     **extra},
    })


GOLD = "select prompt, answer from conquests where gold_star order by id"


def test_query_rows_become_validated_examples(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    create_conquests(database)
    monkeypatch.setenv(URL_ENV, database)
    data = load_dataset(postgres_dataset(GOLD), counter=None, max_seq_length=None)
    report = data.report
    assert (report.rows, report.accepted, report.rejected) == (17, 16, 1)
    # The row number of the NULL answer in the result, and the field it breaks.
    assert [str(i) for i in report.issues] == ["line 17: messages[1].content: expected a string, got null"]
    assert data.train[0] == {"messages": [{"role": "user", "content": MEMO[0][0]},
                                          {"role": "assistant", "content": MEMO[0][1]}]}


def test_trainer_trains_from_a_postgres_query(database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              tiny_model: Path) -> None:
    create_conquests(database)
    monkeypatch.setenv(URL_ENV, database)
    dataset = postgres_dataset(GOLD).model_dump(by_alias=True, exclude_none=True)
    config = job_config(tmp_path, tiny_model, dataset, hyperparameters={"maxSteps": 4},
                        checkpoint={"everySteps": 100})
    assert execute(TrainerConfig.model_validate(config)) == 0
    result = TrainerResult.model_validate_json(Path(config["terminationMessagePath"]).read_text())
    assert result.reason == "Completed" and result.dataset_stats is not None
    assert (result.dataset_stats.examples, result.dataset_stats.rejected) == (16, 1)
    assert (Path(config["output"]["dir"]) / "adapter_model.safetensors").is_file()


def test_query_runs_read_only(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    create_conquests(database)
    monkeypatch.setenv(URL_ENV, database)
    # A function that writes is stopped by the READ ONLY transaction.
    writing = "select nextval('conquests_id_seq')::text as prompt, 'a' as answer"
    with pytest.raises(DatasetInvalid, match="the dataset query must only read; it tried to write: cannot execute "
                                             "nextval"):
        load_dataset(postgres_dataset(writing), counter=None, max_seq_length=None)
    # A data-modifying WITH cannot even be declared as a server-side cursor.
    inserting = ("with w as (insert into conquests (prompt, answer) values ('x', 'y') returning prompt, answer) "
                 "select * from w")
    with pytest.raises(DatasetInvalid, match="DECLARE CURSOR must not contain data-modifying statements"):
        load_dataset(postgres_dataset(inserting), counter=None, max_seq_length=None)
    with psycopg.connect(database) as conn:
        assert conn.execute("select count(*) from conquests").fetchone() == (18,)
        assert conn.execute("select last_value from conquests_id_seq").fetchone() == (18,)


def test_statement_timeout_bounds_the_query(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, database)
    slow = "select pg_sleep(5)::text as prompt, 'a' as answer"
    with pytest.raises(DatasetUnavailable, match=r"ran past statementTimeoutSeconds \(1s\)"):
        load_dataset(postgres_dataset(slow, statementTimeoutSeconds=1), counter=None, max_seq_length=None)


def test_query_errors_by_meaning(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, database)
    with pytest.raises(DatasetInvalid, match='relation "nope" does not exist'):
        load_dataset(postgres_dataset("select * from nope"), counter=None, max_seq_length=None)
    create_conquests(database)
    with pytest.raises(DatasetInvalid, match="the query has no column 'answer'"):
        load_dataset(postgres_dataset("select prompt from conquests"), counter=None, max_seq_length=None)
    monkeypatch.setenv(URL_ENV, "postgresql://kubetune:secret@127.0.0.1:9/none")
    with pytest.raises(DatasetUnavailable, match="cannot connect") as caught:
        load_dataset(postgres_dataset(GOLD), counter=None, max_seq_length=None)
    assert "secret" not in caught.value.message


def export_peak_rss_mb(url: str, query: str, out: Path) -> float:
    """Run ``kubetune dataset export`` in its own process and return its peak RSS (VmHWM, polled).

    Not ``wait4``: a child forked from this (large) test process starts with the parent's RSS as its high-water mark.
    """
    argv = [sys.executable, "-m", "kubetune.cli", "dataset", "export", "--query", query, "--format", "openai",
            "--mapping", "completion=answer", "-o", str(out)]
    proc = subprocess.Popen(argv, env={**os.environ, "KUBETUNE_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    peak_kb = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            hwm = [line for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
        except OSError:
            break
        if hwm:
            peak_kb = max(peak_kb, int(hwm[0].split()[1]))
        time.sleep(0.01)
    _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert b"exported" in stderr
    assert peak_kb > 0
    return peak_kb / 1024


def test_export_of_100k_rows_streams_in_bounded_memory_and_validates(database: str, tmp_path: Path) -> None:
    create_conquests(database, rows=100_000)
    query = "select prompt, answer from conquests where gold_star and id > 18 order by id"
    small = export_peak_rss_mb(database, f"{query} limit 5000", tmp_path / "small.jsonl")
    large = export_peak_rss_mb(database, query, tmp_path / "large.jsonl")
    out = tmp_path / "large.jsonl"
    assert out.stat().st_size > 10_000_000
    # Memory does not grow with the result: 20 times the rows cost (almost) nothing more.
    assert large < 150, large
    assert large - small < 15, (small, large)
    with out.open() as f:
        first = json.loads(f.readline())
        assert sum(1 for _ in f) == 100_000 - 1
    assert first == {"messages": [{"role": "user", "content": 'Question 1: "why" \\ é?'},
                                  {"role": "assistant", "content": "Answer 1\nwith a second line"}]}
    assert cli(["dataset", "validate", str(out), "--format", "openai"]) == 0
    assert not list(tmp_path.glob(".*.partial"))
