"""Comparing resourceVersions as the API allows.

Until Kubernetes 1.35 a resourceVersion was opaque: only equality could be compared. KEP-5504 (1.35) made the
resourceVersions of one resource comparable, with the rule of k8s.io/apimachinery's
``resourceversion.CompareResourceVersion``: both are decimal integers without leading zeros, and are compared as
such (a longer string is the greater number). Anything else is not comparable, and then only equality tells.
"""

from __future__ import annotations


class IncomparableVersions(ValueError):
    """One of the resourceVersions is not a well-formed decimal, so only equality can be compared."""


def _well_formed(version: str) -> bool:
    return version.isascii() and version.isdigit() and (version == "0" or not version.startswith("0"))


def compare_resource_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, the same as, or newer than ``b`` (two versions of one resource)."""
    if a == b:
        return 0
    if not (_well_formed(a) and _well_formed(b)):
        raise IncomparableVersions(f"resourceVersions {a!r} and {b!r} cannot be ordered")
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    return -1 if a < b else 1


def is_newer(candidate: str, current: str) -> bool:
    """Whether ``candidate`` is strictly newer than ``current``; when they cannot be ordered, whether they differ
    (a different version of the object is taken as the newer one, as before KEP-5504)."""
    try:
        return compare_resource_versions(candidate, current) > 0
    except IncomparableVersions:
        return candidate != current
