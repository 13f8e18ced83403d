"""Ordering resourceVersions, as KEP-5504 allows from Kubernetes 1.35 on.

A well-formed resourceVersion is a decimal integer without leading zeros; of two such values of one resource, the
longer is newer, and of two of equal length the lexicographically greater is (apimachinery's
``resourceversion.CompareResourceVersion``). Any other value is opaque: it can only be compared for equality, which is
what servers before 1.35 promise.
"""

from __future__ import annotations

import re

_WELL_FORMED = re.compile(r"[1-9][0-9]*")
MAX_LENGTH = 64  # the mirror's column width; etcd's revisions (int64) have at most 19 digits
KEY_WIDTH = 2  # digits of the length prefix in sort_key


class IncomparableResourceVersions(ValueError):
    """At least one of two different resourceVersions is not well-formed, so neither can be called newer."""


def well_formed(version: str | None) -> bool:
    return version is not None and len(version) <= MAX_LENGTH and _WELL_FORMED.fullmatch(version) is not None


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``.

    Raises IncomparableResourceVersions when they differ and either is not well-formed."""
    if a == b:
        return 0
    if not (well_formed(a) and well_formed(b)):
        raise IncomparableResourceVersions(f"cannot order resourceVersions {a!r} and {b!r}")
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    return -1 if a < b else 1


def is_newer(candidate: str | None, current: str | None) -> bool:
    """Whether a snapshot at ``candidate`` should replace one at ``current``: it is newer, or the two differ and
    cannot be ordered (then the later arrival wins, as it would on a server without KEP-5504)."""
    if current is None:
        return True
    if candidate is None or candidate == current:
        return False
    try:
        return compare(candidate, current) > 0
    except IncomparableResourceVersions:
        return True


def sort_key(version: str | None) -> str | None:
    """A string whose plain (byte-wise) order is the resourceVersion order: the length, zero-padded, then the digits.
    None for a value that is not well-formed, which the database then compares only for equality."""
    if version is None or not well_formed(version):
        return None
    return f"{len(version):0{KEY_WIDTH}d}{version}"
