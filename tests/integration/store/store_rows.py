"""Rows for the mirror's integration tests: TrainingJob bodies, unique UIDs, and a query helper. A module of its own
(not conftest): a test that imports ``conftest`` gets whichever conftest.py is first on sys.path."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import Engine, text

_uids = itertools.count(1)


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql), params).all())


def trainingjob(name: str, version: str, phase: str | None = None, uid: str | None = None,
                namespace: str = "ml", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": namespace, "uid": uid or f"uid-{name}", "resourceVersion": version,
                     "creationTimestamp": "2026-04-30T10:00:00Z"},
        "spec": {"baseModel": {"name": "tiny-llama"}, "output": {"modelName": name}},
        "status": {"phase": phase, **status} if phase else {},
    }


def next_uid(prefix: str) -> str:
    return f"{prefix}-{next(_uids)}"
