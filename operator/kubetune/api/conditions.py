"""Reading and writing ``status.conditions`` in the metav1.Condition shape, on raw lists of dicts (what a kopf
handler holds and patches). Pure functions: they return new lists and never mutate their input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .common import CONDITION_REASON

_STATUSES = {"True", "False", "Unknown"}


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC at second precision, as metav1.Time serialises."""
    if moment.tzinfo is None:
        raise ValueError("condition times must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def get_condition(conditions: Sequence[dict[str, Any]] | None, type: str) -> dict[str, Any] | None:
    """The condition of this type, or None."""
    return next((c for c in conditions or () if c.get("type") == type), None)


def set_condition(
    conditions: Sequence[dict[str, Any]] | None,
    type: str,
    status: str | bool,
    reason: str,
    message: str,
    observed_generation: int | None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Return a new list with the condition of ``type`` set.

    ``lastTransitionTime`` moves only when ``status`` changes, so it tells when the state flipped, not when the
    operator last looked; ``observedGeneration`` is always rewritten (dropped when None), so readers can tell a stale
    condition from a current one. The order of other conditions is kept; a new type is appended.
    """
    status_text = ("True" if status else "False") if isinstance(status, bool) else status
    if status_text not in _STATUSES:
        raise ValueError(f"condition status must be True, False or Unknown, not {status!r}")
    if not re.match(CONDITION_REASON, reason):
        raise ValueError(f"condition reason must be CamelCase (letters, digits, _ , :), not {reason!r}")
    if not type:
        raise ValueError("condition type must not be empty")

    previous = get_condition(conditions, type)
    if previous is not None and previous.get("status") == status_text and previous.get("lastTransitionTime"):
        transition = previous["lastTransitionTime"]
    else:
        transition = format_time(now or datetime.now(UTC))

    updated: dict[str, Any] = {
        "type": type,
        "status": status_text,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
    if observed_generation is not None:
        updated["observedGeneration"] = observed_generation

    result = [dict(c) for c in conditions or ()]
    for i, c in enumerate(result):
        if c.get("type") == type:
            result[i] = updated
            return result
    result.append(updated)
    return result


def is_condition_true(conditions: Sequence[dict[str, Any]] | None, type: str) -> bool:
    """Whether the condition of this type exists and is True."""
    found = get_condition(conditions, type)
    return found is not None and found.get("status") == "True"
