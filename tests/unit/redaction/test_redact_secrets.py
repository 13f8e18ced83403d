"""kubetune.redaction: connection-string passwords and known secret values never survive into a message."""

from __future__ import annotations

import io
import logging

import psycopg
import pytest

from kubetune.redaction import MASK, connection_secrets, redact, redact_logging


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgres://kubetune:pa:ss@db.example/x?sslmode=require", "postgres://kubetune:***@db.example/x?sslmode=require"),
    # the malformed URL of issue 9, as libpq echoes it
    ('missing "=" after "postgresql//u:s3cret@h/db" in connection info string',
     'missing "=" after "postgresql//u:***@h/db" in connection info string'),
    ("postgresql:u:s3cret@h/db", "postgresql:***@h/db"),  # the user goes too: no "//" marks where it starts
    ("https://user:tok3n@example.com/data.jsonl and more", "https://user:***@example.com/data.jsonl and more"),
    ("host=h port=5432 password=s3cret dbname=x", "host=h port=5432 password=*** dbname=x"),
    ("host=h password = 'two words' user=u", "host=h password = *** user=u"),
    ("host=h password='unterminated and the rest", "host=h password=***"),
    ("postgresql://h/db?user=u&password=s3cret&sslmode=require", "postgresql://h/db?user=u&password=***&sslmode=require"),
    ("PGPASSWORD=s3cret psql", "PGPASSWORD=*** psql"),
    ('{"sslpassword": "s3cret", "db_password": "x y"}', '{"sslpassword": ***, "db_password": ***}'),
    ("api-key=abc123 token: eyJhbGciOi secret=hush", "api-key=*** token: *** secret=***"),
    (None, None),  # a secret value passed as None (an unset variable) is ignored
])
def test_patterns(text: str | None, expected: str | None) -> None:
    if text is None:
        assert redact("nothing here", None) == "nothing here"
        return
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "password authentication failed for user \"u\"",
    "connection to server at \"127.0.0.1\", port 9 failed: Connection refused",
    "the dataset query failed: relation \"nope\" does not exist",
    "GET https://example.com/data.jsonl answered 404 Not Found",
    "trained 60 steps with huggingface; adapter in /adapters/x",
    "datasetStats: tokens: 4100000, secretRef: appdb, max_tokens=256",
])
def test_ordinary_messages_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_known_secrets_are_replaced_wherever_they_appear() -> None:
    secrets = connection_secrets("postgresql://u:s3cr%zzet@h/db")
    assert {"postgresql://u:s3cr%zzet@h/db", "s3cr%zzet"} <= secrets
    # libpq quotes only the broken token, which no pattern recognises as a password
    # libpq's own words happen to match the "token:" pattern; a fragment quoted anywhere else needs the known value
    assert redact('invalid percent-encoded token: "s3cr%zzet"', *secrets) == f"invalid percent-encoded token: {MASK}"
    assert redact('cannot decode "s3cr%zzet"', *secrets) == f'cannot decode "{MASK}"'
    assert redact('cannot decode "s3cr%zzet"') == 'cannot decode "s3cr%zzet"'
    assert redact("echo: s3cr%zzet, again s3cr%zzet", *secrets).count("s3cr") == 0


def test_percent_encoded_passwords_are_hidden_decoded_too() -> None:
    secrets = connection_secrets("postgresql://u:p%40ss%2Fw0rd@h/db")
    assert "p@ss/w0rd" in secrets
    assert "p@ss/w0rd" not in redact("server said: p@ss/w0rd is wrong", *secrets)


def test_key_value_connection_secrets() -> None:
    secrets = connection_secrets("host=h user=u password='a b c d' dbname=x")
    assert "a b c d" in secrets
    assert redact("got 'a b c d' back", *secrets) == f"got '{MASK}' back"


def test_short_secrets_are_not_replaced_everywhere() -> None:
    # A 2-character password would turn every "ab" in a message into ***; patterns still catch it in a URL.
    assert redact("table abc", "ab") == "table abc"
    assert redact("postgresql://u:ab@h/db", "ab") == "postgresql://u:***@h/db"


def test_empty_connection() -> None:
    assert connection_secrets(None) == frozenset()
    assert connection_secrets("  ") == frozenset()


@pytest.mark.parametrize("url", [
    "postgresql//u:s3cretpw@127.0.0.1/db",
    "postgresql://u:s3cretpw@127.0.0.1:notaport/db",
    "postgresql://u:s3cretpw%zz@127.0.0.1/db",
    "postgresql://u:s3cretpw@127.0.0.1:9/db",
    "host=127.0.0.1 password=s3cretpw port=notaport",
    "host=127.0.0.1 password='s3cretpw",
    "host=127.0.0.1 passwrd=s3cretpw",
])
def test_every_libpq_connection_error_is_redacted(url: str) -> None:
    # Real libpq messages (nothing listens on port 9 of loopback): what the trainer and the CLI would otherwise print.
    with pytest.raises(psycopg.Error) as caught:
        psycopg.connect(url, connect_timeout=2).close()
    message = str(caught.value)
    assert "s3cretpw" not in redact(message, *connection_secrets(url))
    assert "s3cretpw" not in redact(message) or "%zz" in url  # only a quoted fragment needs the known value


def test_logging_redacts_messages_arguments_and_tracebacks() -> None:
    logger = logging.getLogger("test_redaction_logging")
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        secrets = redact_logging(logger=logger)
        logger.error("connecting to %s", "postgresql://u:s3cret@h/db")
        secrets.add("learnt-later-value")  # the trainer adds its database URL once it has read its config
        try:
            raise RuntimeError("boom: learnt-later-value")
        except RuntimeError:
            logger.exception("failed")
        redact_logging(logger=logger)  # installing twice keeps one set of secrets
        logger.error("still hidden: learnt-later-value")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "s3cret" not in out and "learnt-later-value" not in out
    assert "ERROR connecting to postgresql://u:***@h/db" in out
    assert "RuntimeError: boom: ***" in out  # the traceback is kept, redacted
    assert "ERROR still hidden: ***" in out
