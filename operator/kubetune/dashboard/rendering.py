"""The Jinja2 environment the pages render with: templates from this package, autoescaped, and the filters that
turn the mirror's values into what people read (ages, durations, percentages, numbers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


def age(value: datetime | None, now: datetime | None = None) -> str:
    """``3m``, ``2h``, ``5d``: how long ago, as kubectl shows an AGE."""
    if value is None:
        return "-"
    seconds = max(0, int(((now or datetime.now(UTC)) - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{secs:02d}s" if minutes else f"{secs}s")


def number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
        return "-"  # None, or a key the object does not have (jinja2's Undefined)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 10 ** -digits or abs(value) >= 1e6):
            return f"{value:.{digits}g}"
        return f"{value:,.{digits}f}"
    return str(value)


def score(value: Any, digits: int = 3) -> str:
    """A metric that is a fraction (exact match, F1, a difference): always ``digits`` decimals, 0 included, which a
    JSON document may carry as the integer 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return number(value, digits)


def percent(value: Any, digits: int = 1) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{100 * value:.{digits}f}%"


def timestamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def make_environment() -> Environment:
    env = Environment(loader=PackageLoader("kubetune.dashboard", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(age=age, number=number, score=score, percent=percent, timestamp=timestamp, iso=iso)
    env.globals.update(duration=duration)
    return env
