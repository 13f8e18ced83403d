"""resourceVersions are ordered by KEP-5504's rules where they are well-formed, and compared for equality otherwise."""

from __future__ import annotations

import pytest

from kubetune.kube.versions import IncomparableResourceVersions, compare, is_newer, sort_key, well_formed


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("5", "5", 0),
    ("9", "10", -1),          # longer is greater, whatever the digits
    ("100", "99", 1),
    ("123", "124", -1),       # same length: lexicographic
    ("2000", "1999", 1),
    ("18446744073709551616", "18446744073709551615", 1),  # beyond int64: still ordered
])
def test_well_formed_versions_are_ordered(a: str, b: str, expected: int) -> None:
    assert compare(a, b) == expected
    assert compare(b, a) == -expected


@pytest.mark.parametrize("version", ["", "0", "012", "12a", "-1", " 12", "1.5", "x" * 3, "1" * 65])
def test_malformed_versions_are_not_ordered(version: str) -> None:
    assert not well_formed(version)
    assert sort_key(version) is None
    with pytest.raises(IncomparableResourceVersions):
        compare(version, "12")
    assert compare(version, version) == 0  # equality still holds


def test_sort_keys_order_like_the_versions() -> None:
    versions = ["1", "9", "10", "99", "100", "123456789", "1000000000000000000"]
    keys = [sort_key(v) for v in versions]
    assert all(k is not None for k in keys)
    assert sorted(keys) == keys  # type: ignore[type-var]  # plain string order is version order


def test_is_newer_falls_back_to_inequality() -> None:
    assert is_newer("11", "10") and not is_newer("10", "11") and not is_newer("10", "10")
    assert is_newer("10", None)  # nothing stored yet
    assert not is_newer(None, "10")
    assert is_newer("opaque-2", "opaque-1") and is_newer("opaque-1", "opaque-2")  # unknown order: the later arrival
    assert not is_newer("opaque-1", "opaque-1")
