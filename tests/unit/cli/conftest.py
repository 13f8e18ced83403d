"""Fixtures for the CLI's unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

Json = dict[str, Any]


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig with two contexts; the current one names namespace ml-team. Nothing listens on its port."""
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: connecting to it is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "team",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "team", "context": {"cluster": "c", "user": "u", "namespace": "ml-team"}},
                     {"name": "plain", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path
