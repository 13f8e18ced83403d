"""set_condition keeps metav1.Condition semantics: lastTransitionTime moves only when status changes, and
observedGeneration always reflects the latest write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kubetune.api import Condition, get_condition, is_condition_true, set_condition

T0 = datetime(2025, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_new_condition_is_appended_with_all_fields() -> None:
    existing = [{"type": "Validated", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z",
                 "reason": "Valid", "message": ""}]

    result = set_condition(existing, "Ready", True, "Loaded", "on 3/3 pods", 4, now=T0)

    assert result[0] == existing[0]
    assert result[1] == {"type": "Ready", "status": "True", "lastTransitionTime": "2025-03-01T12:00:00Z",
                         "reason": "Loaded", "message": "on 3/3 pods", "observedGeneration": 4}
    Condition.model_validate(result[1])


def test_same_status_keeps_transition_time_but_updates_the_rest() -> None:
    first = set_condition([], "Ready", "False", "Loading", "0/3", 1, now=T0)

    second = set_condition(first, "Ready", "False", "Loading", "2/3", 2, now=T1)

    assert second[0]["lastTransitionTime"] == "2025-03-01T12:00:00Z"
    assert second[0]["message"] == "2/3"
    assert second[0]["observedGeneration"] == 2


def test_status_change_moves_transition_time() -> None:
    first = set_condition([], "Ready", False, "Loading", "", 1, now=T0)

    second = set_condition(first, "Ready", True, "Loaded", "", 1, now=T1)

    assert second[0]["lastTransitionTime"] == "2025-03-01T12:05:00Z"
    assert second[0]["status"] == "True"


def test_input_is_not_mutated_and_order_is_kept() -> None:
    conditions = set_condition([], "A", True, "Yes", "", 1, now=T0)
    conditions = set_condition(conditions, "B", True, "Yes", "", 1, now=T0)
    snapshot = [dict(c) for c in conditions]

    result = set_condition(conditions, "A", False, "No", "", 2, now=T1)

    assert conditions == snapshot
    assert [c["type"] for c in result] == ["A", "B"]
    assert result[0]["status"] == "False"


def test_observed_generation_none_drops_a_stale_value() -> None:
    first = set_condition([], "Ready", True, "Loaded", "", 3, now=T0)

    second = set_condition(first, "Ready", True, "Loaded", "", None, now=T1)

    assert "observedGeneration" not in second[0]


def test_times_are_utc_at_second_precision() -> None:
    later = datetime(2025, 3, 1, 14, 0, 0, 999999, tzinfo=timezone(timedelta(hours=2)))

    result = set_condition([], "Ready", "Unknown", "Probing", "", 1, now=later)

    assert result[0]["lastTransitionTime"] == "2025-03-01T12:00:00Z"


def test_default_now_is_current_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    stamp = set_condition(None, "Ready", True, "Loaded", "", 1)[0]["lastTransitionTime"]

    assert before <= datetime.fromisoformat(stamp) <= datetime.now(UTC)


@pytest.mark.parametrize(("status", "reason", "type_", "problem"), [
    ("Yes", "Loaded", "Ready", "True, False or Unknown"),
    ("True", "not camel case", "Ready", "CamelCase"),
    ("True", "", "Ready", "CamelCase"),
    ("True", "Loaded", "", "type must not be empty"),
])
def test_invalid_arguments_are_refused(status: str, reason: str, type_: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        set_condition([], type_, status, reason, "", 1, now=T0)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        set_condition([], "Ready", True, "Loaded", "", 1, now=datetime(2025, 1, 1))


def test_get_condition_and_is_condition_true() -> None:
    conditions = set_condition([], "Validated", True, "Valid", "", 1, now=T0)
    conditions = set_condition(conditions, "Ready", False, "Loading", "", 1, now=T0)

    assert get_condition(conditions, "Ready") == conditions[1]
    assert get_condition(conditions, "Missing") is None
    assert get_condition(None, "Ready") is None
    assert is_condition_true(conditions, "Validated")
    assert not is_condition_true(conditions, "Ready")
    assert not is_condition_true(conditions, "Missing")
