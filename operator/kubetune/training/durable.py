"""Flush files and directories to disk, so a node crash cannot leave a checkpoint or an adapter half-written."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush every file under ``path``, then ``path`` itself."""
    for file in path.rglob("*"):
        if file.is_file():
            fsync_path(file)
    fsync_path(path)
