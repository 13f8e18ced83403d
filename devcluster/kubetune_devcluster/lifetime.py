"""Tie a child process's life to its parent's: when a test run is killed, its control plane and pods go too."""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """A ``preexec_fn``: start a new session and get SIGKILL when the parent dies (Linux prctl)."""
    os.setsid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
