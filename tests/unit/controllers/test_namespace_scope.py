"""Namespace patterns: matched by the operator's handlers on cluster-wide watches (kopf misses a namespace created
while it starts when it follows a pattern itself), with kopf's syntax."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kubetune.controllers.scope import in_scope
from kubetune.kube.namespaces import namespace_matches, plain_names


@pytest.mark.parametrize(("namespace", "patterns", "served"), [
    ("e2e-dash-1", ("e2e-*",), True),
    ("default", ("e2e-*",), False),
    ("team-a", ("team-*", "!team-sandbox"), True),
    ("team-sandbox", ("team-*", "!team-sandbox"), False),
    ("anything", ("!kube-*",), True),
    ("kube-system", ("!kube-*",), False),
    ("anything", (), True),
])
def test_patterns_read_as_kopf_reads_them(namespace: str, patterns: tuple[str, ...], served: bool) -> None:
    assert namespace_matches(namespace, patterns) is served


def test_only_exact_names_are_left_to_kopf() -> None:
    assert plain_names(("ml", "research"))
    assert not plain_names(("ml-*",)) and not plain_names(("!kube-system",)) and not plain_names(("ns[0-9]",))


def test_the_handlers_filter_reads_the_memo() -> None:
    memo = SimpleNamespace(namespace_patterns=("e2e-*",))
    assert in_scope("e2e-x", memo) and not in_scope("default", memo)
    assert in_scope(None, memo)  # cluster-scoped events are never filtered out
    assert in_scope("default", SimpleNamespace())  # no patterns: kopf already watches only what is served
