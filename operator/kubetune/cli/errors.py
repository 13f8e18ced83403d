"""What the CLI reports when something goes wrong: one line on stderr and an exit code a script can use."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
"""The TrainingJob or ModelComparison failed (or another command's check did not pass)."""
EXIT_USAGE = 2
"""A bad flag, or input the command cannot use (an invalid manifest, a dataset too large for a ConfigMap)."""
EXIT_CLUSTER = 3
"""The cluster could not be reached or refused the request, or the object does not exist."""


class CliError(Exception):
    """A user-facing error: ``main`` prints ``kubetune: <message>`` on one line and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_CLUSTER) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CliError):
    """Input the command cannot use."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


def one_line(message: str) -> str:
    """Messages from the API server or a pod can span lines; an error stays on one."""
    return "; ".join(part.strip() for part in message.strip().splitlines() if part.strip())
