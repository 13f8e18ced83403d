"""The seeded SQLite mirror (``mirror_seed``), once per module."""

from __future__ import annotations

from pathlib import Path

import pytest
from mirror_seed import seed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    path: Path = tmp_path_factory.mktemp("mirror") / "kubetune.db"
    url = f"sqlite:///{path}"
    return url, seed(url)
