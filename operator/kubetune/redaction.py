"""Secrets out of text before it leaves the process: a termination message, a status, an Event, a log line, an error
printed by the CLI.

libpq echoes a connection string it cannot parse, password included (``missing "=" after "postgresql//u:pw@h/db" in
connection info string``), and a traceback repeats whatever its exceptions said. So every message that may carry a
connection string goes through :func:`redact`, which removes

- the password of a URL's userinfo (``scheme://user:PASSWORD@host``, and the malformed forms libpq echoes),
- the value of a ``password=...`` pair (libpq's key=value form, a URL's query, a ``PGPASSWORD=`` line), and of
  ``token``, ``secret`` and ``api_key`` pairs,
- each secret value the caller knows (a database URL read from a Secret, and the password inside it).

Standard library only and no other kubetune import, so the trainer, the CLI and the operator can all use it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote

MASK = "***"

# A secret this short would blank out ordinary words if replaced wherever it appears; such values are still removed
# where a pattern below finds them.
MIN_SECRET_LENGTH = 4

# user:password@ as libpq reads a URI's userinfo: the password runs to the first '@' and holds no '/'. No scheme is
# required, so "postgresql//u:pw@h" and "postgresql:u:pw@h" (both echoed verbatim by libpq) are covered too.
_USERINFO = re.compile(r"(?P<user>[^\s:/@'\"]*):(?P<password>[^\s@/]+)@")

# password=value, PGPASSWORD=value, sslpassword: value, "db_password": "value", token: value, api-key=value; quoted
# values may hold spaces (libpq allows 'single quoted' values), and an unterminated quote hides the rest of the line.
# Whole words only: "tokens: 4100000" and "secretRef:" are left alone.
_KEY_VALUE = re.compile(
    r"(?P<key>\b\w*(?:password|passwd|pwd|api[_-]?key|token|secret)\b[\"']?\s*[=:]\s*)"
    r"(?P<value>'(?:[^'\\\n]|\\.)*'?|\"(?:[^\"\\\n]|\\.)*\"?|[^\s&,;'\"}]+)",
    re.IGNORECASE,
)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every connection-string password and each of ``secrets`` (known secret values) masked.

    ``redact(message, *connection_secrets(url))`` where the connection string is known; ``redact(message)`` anywhere.
    """
    # Patterns first: they keep the rest of a URL readable ("postgresql//u:***@h/db" says what was wrong with it).
    text = _USERINFO.sub(lambda m: f"{m['user']}:{MASK}@", text)
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{MASK}", text)
    known = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    for secret in known:  # longest first: a whole URL goes before the password inside it
        text = text.replace(secret, MASK)
    return text


def connection_secrets(connection: str | None) -> frozenset[str]:
    """What to hide for a connection string: the string itself and each password in it, as written and decoded.

    Pass the result to :func:`redact` where the string is known: an error may quote a fragment of it (libpq's
    ``invalid percent-encoded token: "pw%zz"``) that no pattern recognises.
    """
    if not connection or not connection.strip():
        return frozenset()
    found = {connection, connection.strip()}
    passwords = [m["password"] for m in _USERINFO.finditer(connection)]
    passwords += [m["value"].strip("'\"") for m in _KEY_VALUE.finditer(connection)]
    for password in passwords:
        found.update({password, unquote(password)})
    return frozenset(s for s in found if s)


class RedactingFormatter(logging.Formatter):
    """Formats a record as ``inner`` does (message, arguments, traceback), then redacts the whole text.

    ``secrets`` is kept by reference and may grow after the formatter is installed: the trainer learns its database
    URL only once it has read its config.
    """

    def __init__(self, inner: logging.Formatter | None = None, secrets: set[str] | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.secrets: set[str] = secrets if secrets is not None else set()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), *self.secrets)


def redact_logging(secrets: Iterable[str] = (), logger: logging.Logger | None = None) -> set[str]:
    """Make every handler of ``logger`` (the root logger by default) redact what it writes.

    Returns the set of secret values the handlers share: add to it what is learnt later.
    """
    shared = set(secrets)
    for handler in (logger or logging.getLogger()).handlers:
        inner = handler.formatter
        if isinstance(inner, RedactingFormatter):  # installed before: keep what it knew, share one set from now on
            shared |= inner.secrets
            inner = inner.inner
        handler.setFormatter(RedactingFormatter(inner, shared))
    return shared


__all__ = ["MASK", "MIN_SECRET_LENGTH", "RedactingFormatter", "connection_secrets", "redact", "redact_logging"]
