"""API keys: read from the environment variables the config names, and redacted from everything the pod writes.

Keys arrive as ``secretKeyRef`` environment variables; the config holds only the variables' names. Every string the
evaluator logs, writes to a sample, serves as progress or puts in its result passes ``redact`` first (a server's error
message could echo a header), and a logging filter catches the rest.
"""

from __future__ import annotations

import logging
import os

from .errors import ConfigInvalid

REDACTED = "[redacted]"


class Secrets:
    """The key values known to this process."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def api_key(self, variable: str | None, role: str) -> str | None:
        """The key in ``variable`` (None when no variable is named); an unset or empty variable is a config error
        that names the variable, never a value."""
        if variable is None:
            return None
        value = os.environ.get(variable, "")
        if not value:
            raise ConfigInvalid(f"{role}.apiKeyEnv: environment variable {variable} is not set or empty")
        self._values.add(value)
        return value

    def redact(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        return text


class RedactingFilter(logging.Filter):
    """Formats each record once and removes any key from it, whatever logged it (the OpenAI client, httpx, us)."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.secrets.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_redaction(secrets: Secrets) -> None:
    """Attach the filter to every handler of the root logger (filters on loggers do not see propagated records)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(secrets))
