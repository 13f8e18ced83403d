"""resourceVersions compared as the API allows (KEP-5504): well-formed decimals by value, anything else only for
equality."""

from __future__ import annotations

import pytest

from kubetune.kube.versions import IncomparableVersions, compare_resource_versions, is_newer


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("5", "5", 0), ("4", "5", -1), ("10", "9", 1), ("9", "10", -1), ("100000000000000000001", "99", 1),
    ("123", "124", -1), ("0", "1", -1),
])
def test_well_formed_versions_compare_as_numbers(a: str, b: str, expected: int) -> None:
    assert compare_resource_versions(a, b) == expected


@pytest.mark.parametrize(("a", "b"), [("01", "2"), ("abc", "5"), ("", "5"), ("-1", "5"), ("1.5", "2"), ("٣", "4")])
def test_malformed_versions_cannot_be_ordered(a: str, b: str) -> None:
    with pytest.raises(IncomparableVersions):
        compare_resource_versions(a, b)


def test_is_newer_falls_back_to_inequality() -> None:
    assert is_newer("10", "9") and not is_newer("9", "10") and not is_newer("7", "7")
    assert is_newer("opaque-b", "opaque-a") and not is_newer("opaque-a", "opaque-a")
