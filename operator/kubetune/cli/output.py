"""How commands print: rich consoles (colour only on a terminal, never with NO_COLOR), kubectl-style tables, and
JSON or YAML of the objects themselves.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

PIPE_WIDTH = 4096  # Piped output is for grep and awk: never wrap or cut a row.


def console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr). rich turns colour off when the stream is not a terminal and when NO_COLOR
    is set, as https://no-color.org asks; FORCE_COLOR turns it on."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    is_tty = stream.isatty()
    # emoji=False: ":key:" in managedFields (f:key) must not become an emoji.
    return Console(file=stream, highlight=False, emoji=False, width=None if is_tty else PIPE_WIDTH,
                   soft_wrap=not is_tty)


def table(headers: Sequence[str]) -> Table:
    """A borderless table whose columns are set three spaces apart, like kubectl's."""
    from rich.table import Table

    grid = Table(box=None, pad_edge=False, padding=(0, 3, 0, 0), header_style="bold", show_edge=False)
    for header in headers:
        grid.add_column(header, no_wrap=True, overflow="ellipsis")
    return grid


def print_table(out: Console, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    grid = table(headers)
    for row in rows:
        grid.add_row(*row)
    print_grid(out, grid)


def print_grid(out: Console, grid: Table) -> None:
    if out.is_terminal:
        out.print(grid)
        return
    # rich pads every cell to its column's width; piped rows end where their text ends, as kubectl's do.
    with out.capture() as captured:
        out.print(grid)
    for line in captured.get().splitlines():
        out.print(line.rstrip(), markup=False, highlight=False)


def dump(out: Console, data: Any, fmt: str) -> None:
    """Print ``data`` as JSON or YAML, exactly (no wrapping, no markup)."""
    if fmt == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n")
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Several objects as kubectl prints them with -o json: a v1 List."""
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's short age: 42s, 5m10s, 3h, 2d."""
    start = parse_time(timestamp)
    if start is None:
        return "<unknown>"
    seconds = max(0, int(((now or datetime.now(UTC)) - start).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def duration(seconds: float | None) -> str:
    """1:02:03 or 2:03."""
    if seconds is None:
        return "-"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def number(value: Any, digits: int = 3) -> str:
    """A metric for a table cell: '-' when absent, integers as they are, floats to ``digits`` significant digits
    (thousands and more as whole numbers)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return str(value)
