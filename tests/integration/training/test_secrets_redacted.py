"""A database password never leaves the process (issue 9): not through ``kubetune dataset export``'s output, not through
the trainer's termination message (which the operator copies into the TrainingJob's status and an Event), not through
its log. Each error path runs for real: the CLI and the trainer as processes, against the real Postgres server, with a
role that must give its password."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from trainer_harness import MEMO, job_config, trainer_command, trainer_env, write_config

from kubetune.api.trainer import EXIT_DATASET_INVALID, EXIT_RETRIABLE, TrainerConfig, TrainerResult
from kubetune.training.main import execute
from kubetune_devcluster.postgres import PostgresServer

pytestmark = pytest.mark.postgres

URL_ENV = "KUBETUNE_TEST_DATASET_URL"


@dataclass(frozen=True)
class Reader:
    """A role with a password, and a database it can read."""

    name: str
    password: str
    port: int
    database: str

    def url(self, password: str | None = None, port: int | None = None) -> str:
        return (f"postgresql://{self.name}:{password or self.password}@127.0.0.1:{port or self.port}/"
                f"{self.database}")


@pytest.fixture(scope="module")
def reader(postgres: PostgresServer) -> Reader:
    database = f"t_{uuid.uuid4().hex[:10]}"
    postgres.create_database(database)
    name, password = f"reader_{uuid.uuid4().hex[:6]}", f"Pw{uuid.uuid4().hex}"
    url = postgres.password_role(name, password, database)
    deadline = time.monotonic() + 10
    while True:  # the server reads pg_hba.conf again shortly after the reload signal
        try:
            psycopg.connect(url.replace(password, "wrong"), connect_timeout=2).close()
        except psycopg.OperationalError as e:
            if "password authentication failed" in str(e):
                break
        if time.monotonic() > deadline:
            raise TimeoutError("pg_hba.conf reload not seen")
        time.sleep(0.1)
    with psycopg.connect(postgres.dsn(database), autocommit=True) as conn:
        conn.execute("create table conquests (prompt text, answer text)")
        conn.execute("insert into conquests values (%s, %s)", MEMO[0])
    return Reader(name, password, postgres.port, database)


GOOD_QUERY = "select prompt, answer as completion from conquests"


@dataclass(frozen=True)
class Case:
    url: str
    query: str
    secret: str  # the password given, which must not come out
    expect: str  # what the user is told instead


def cases(reader: Reader) -> dict[str, Case]:
    pw = reader.password
    return {
        # issue 9's example: libpq echoes the whole string it cannot parse
        "malformed-url": Case(reader.url().replace("://", "//"), GOOD_QUERY, pw, 'missing "=" after "postgresql//'),
        # libpq quotes just the token it cannot decode: only the known value can be matched
        "bad-percent-encoding": Case(reader.url(password=pw + "%zz"), GOOD_QUERY, pw,
                                     "invalid percent-encoded token"),
        "unterminated-quote": Case(f"host=127.0.0.1 port={reader.port} user={reader.name} password='{pw}",
                                   GOOD_QUERY, pw, "unterminated quoted string"),
        "wrong-password": Case(reader.url(password=pw[::-1]), GOOD_QUERY, pw[::-1], "password authentication failed"),
        "unreachable-host": Case(reader.url(port=9), GOOD_QUERY, pw, "Connection refused"),
        "bad-query": Case(reader.url(), "select * from nope", pw, 'relation "nope" does not exist'),
    }


CASES = ["malformed-url", "bad-percent-encoding", "unterminated-quote", "wrong-password", "unreachable-host",
         "bad-query"]


@pytest.mark.parametrize("name", CASES)
def test_dataset_export_never_prints_the_password(reader: Reader, name: str, tmp_path: Path) -> None:
    case = cases(reader)[name]
    out = tmp_path / "out.jsonl"
    done = subprocess.run([sys.executable, "-m", "kubetune.cli", "dataset", "export", "--database-url", case.url,
                           "-q", case.query, "-f", "prompt-completion", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert case.secret not in done.stdout + done.stderr
    assert case.expect in done.stderr
    assert not out.exists()


def test_dataset_export_still_works_with_the_right_password(reader: Reader, tmp_path: Path) -> None:
    # The fixture is sound: the same role and database export rows when nothing is wrong.
    out = tmp_path / "out.jsonl"
    done = subprocess.run([sys.executable, "-m", "kubetune.cli", "dataset", "export", "--database-url", reader.url(),
                           "-q", GOOD_QUERY, "-f", "prompt-completion", "-o", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text().splitlines()[0]) == {"prompt": MEMO[0][0], "completion": MEMO[0][1]}


def run_trainer_in_process(config: dict, url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(URL_ENV, url)
    return execute(TrainerConfig.model_validate(config))


def expected_outcome(name: str) -> tuple[str, int]:
    # A query that cannot work fails the job; anything about reaching the database is retried.
    return ("DatasetInvalid", EXIT_DATASET_INVALID) if name == "bad-query" else ("DatasetUnavailable", EXIT_RETRIABLE)


@pytest.mark.parametrize("name", CASES)
def test_trainer_reports_without_the_password(reader: Reader, name: str, tmp_path: Path, tiny_model: Path,
                                              monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    # In this process, so the six cases pay for importing the trainer once; the log is what its loggers emitted.
    case = cases(reader)[name]
    config = job_config(tmp_path, tiny_model, postgres_dataset(case.query))
    caplog.set_level(logging.INFO)
    code = run_trainer_in_process(config, case.url, monkeypatch)
    termination = Path(config["terminationMessagePath"]).read_text()
    result = TrainerResult.model_validate_json(termination)
    assert (result.phase, (result.reason, code)) == ("Failed", expected_outcome(name))
    assert case.expect in result.message
    printed = capfd.readouterr()
    for where, text in (("termination message", termination), ("log", caplog.text),
                        ("stdout", printed.out), ("stderr", printed.err)):
        assert case.secret not in text, f"{where} shows the password"
    assert case.expect in caplog.text  # the log still says what went wrong


def test_trainer_process_redacts_its_whole_log(reader: Reader, tmp_path: Path, tiny_model: Path) -> None:
    # As in a pod: ``python -m kubetune.training``, whose every log line (libraries' included) is redacted.
    case = cases(reader)["malformed-url"]
    config = job_config(tmp_path, tiny_model, postgres_dataset(case.query))
    done = subprocess.run(trainer_command(write_config(tmp_path, config)), capture_output=True, text=True,
                          env={**trainer_env(), URL_ENV: case.url}, timeout=600)
    termination = Path(config["terminationMessagePath"]).read_text()
    result = TrainerResult.model_validate_json(termination)
    assert (result.reason, done.returncode) == expected_outcome("malformed-url")
    for where, text in (("termination message", termination), ("stdout", done.stdout), ("log", done.stderr)):
        assert case.secret not in text, f"{where} shows the password"
    assert f'{case.expect}{reader.name}:***@127.0.0.1' in done.stderr  # what was wrong is still readable


def postgres_dataset(query: str) -> dict[str, object]:
    return {"format": "prompt-completion",
            "postgres": {"databaseUrlEnv": URL_ENV, "query": query, "statementTimeoutSeconds": 30}}
