"""Namespace patterns as kopf writes them (``--namespace 'team-*' --namespace '!team-sandbox'``): globs, and a
leading ``!`` to exclude. One reading for the operator's handlers, its relists and the mirror."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

GLOB = frozenset("*?[")


def plain_names(patterns: Sequence[str]) -> bool:
    """Only exact names: each can be listed and watched on its own, with a namespaced operator's permissions."""
    return all(not p.startswith("!") and not GLOB & set(p) for p in patterns)


def namespace_matches(namespace: str, patterns: Sequence[str]) -> bool:
    """Whether ``namespace`` is served: no patterns means every namespace."""
    if not patterns:
        return True
    includes = [p for p in patterns if not p.startswith("!")]
    excludes = [p[1:] for p in patterns if p.startswith("!")]
    included = not includes or any(fnmatch.fnmatchcase(namespace, p) for p in includes)
    return included and not any(fnmatch.fnmatchcase(namespace, p) for p in excludes)
