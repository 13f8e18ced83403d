"""Which namespaces the operator serves, when they are given as patterns (``--namespace 'team-*'``).

kopf follows a pattern by listing namespaces once and then watching them, but it ignores the objects of its watch's
own first listing: a namespace created between the two (a test, or a tenant, created while the operator starts) is
never served until a restart. So a pattern is matched here instead, on kopf's cluster-wide watches (which a pattern
needs the permissions for anyway); exact names stay with kopf, which watches each namespace on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..kube.namespaces import namespace_matches


def in_scope(namespace: str | None, memo: Any, **_: Any) -> bool:
    """kopf's ``when=`` filter of every event handler: events from namespaces outside the patterns are dropped."""
    patterns: Sequence[str] = getattr(memo, "namespace_patterns", ()) or ()
    return namespace is None or namespace_matches(namespace, patterns)
