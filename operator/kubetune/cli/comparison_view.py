"""A ModelComparison's results as a table: one row per metric, baseline beside candidate, the change, and the win
rate and verdict under it.

Data-driven: the rows are whatever metrics ``status.results.baseline`` and ``.candidate`` hold (known ones first, in
a sensible order, with units and the direction that is better), so a metric the evaluator adds later shows up
without a change here. Anything else under ``status.results`` is listed after the verdict.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .output import number

if TYPE_CHECKING:
    from rich.console import RenderableType

Json = dict[str, Any]
Better = Literal["lower", "higher"] | None

# key -> (label, which direction is better)
KNOWN_METRICS: dict[str, tuple[str, Better]] = {
    "exactMatch": ("exact match", "higher"),
    "rougeL": ("ROUGE-L", "higher"),
    "latencyP50Ms": ("latency p50 (ms)", "lower"),
    "latencyP95Ms": ("latency p95 (ms)", "lower"),
    "ttftP50Ms": ("time to first token p50 (ms)", "lower"),
    "ttftP95Ms": ("time to first token p95 (ms)", "lower"),
    "outputTokensPerSecond": ("output tokens/s", "higher"),
    "requestsPerSecond": ("requests/s", "higher"),
    "errors": ("failed requests", "lower"),
}
_LOWER_HINTS = ("latency", "ttft", "error", "ms", "seconds", "cost")
SIDES = ("baseline", "candidate")
VERDICT_STYLES = {"candidate": "bold green", "baseline": "bold red", "inconclusive": "bold yellow"}


@dataclass(frozen=True)
class MetricRow:
    key: str
    label: str
    baseline: Any
    candidate: Any
    better: Better

    @property
    def change(self) -> float | None:
        """The candidate's relative change against the baseline, when both are numbers and the baseline is not 0."""
        if not (_numeric(self.baseline) and _numeric(self.candidate)) or self.baseline == 0:
            return None
        return float((self.candidate - self.baseline) / abs(self.baseline))

    @property
    def winner(self) -> str | None:
        """Which side this metric favours, when its better direction is known."""
        b, c = self.baseline, self.candidate
        if self.better is None or not (_numeric(b) and _numeric(c)) or b == c:
            return None
        return "candidate" if (c > b) == (self.better == "higher") else "baseline"


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def label_for(key: str) -> tuple[str, Better]:
    if key in KNOWN_METRICS:
        return KNOWN_METRICS[key]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).lower()
    words = re.sub(r" ms$", " (ms)", words)
    better: Better = "lower" if any(hint in key.lower() for hint in _LOWER_HINTS) else None
    return words, better


def metric_rows(results: Json) -> list[MetricRow]:
    sides = {side: results.get(side) or {} for side in SIDES}
    keys = [k for k in KNOWN_METRICS if any(k in sides[s] for s in SIDES)]
    extra = sorted({k for s in SIDES for k in sides[s]} - set(keys))
    rows = []
    for key in keys + extra:
        label, better = label_for(key)
        rows.append(MetricRow(key, label, sides["baseline"].get(key), sides["candidate"].get(key), better))
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return number(value, 4)


def _change_cell(row: MetricRow) -> str:
    change = row.change
    if change is None:
        return ""
    text = f"{change:+.1%}"
    winner = row.winner
    if winner == "candidate":
        return f"[green]{text}[/]"
    if winner == "baseline":
        return f"[red]{text}[/]"
    return text


def side_name(spec: Json, side: str) -> str:
    model = (spec or {}).get(side) or {}
    if model.get("fineTunedModelRef"):
        return str(model["fineTunedModelRef"].get("name"))
    return str(model.get("servedName") or side)


def win_rate_line(win_rate: Json) -> str | None:
    if not win_rate:
        return None
    parts = []
    if win_rate.get("candidate") is not None:
        text = f"candidate wins {win_rate['candidate']:.0%}"
        ci = win_rate.get("ci95")
        if ci and len(ci) == 2:
            text += f" (95% CI {ci[0]:.0%} to {ci[1]:.0%})"
        parts.append(text)
    if win_rate.get("baseline") is not None:
        parts.append(f"baseline wins {win_rate['baseline']:.0%}")
    if win_rate.get("ties") is not None:
        parts.append(f"{win_rate['ties']} ties")
    if win_rate.get("n") is not None:
        parts.append(f"n = {win_rate['n']}")
    known = {"candidate", "baseline", "ties", "n", "ci95"}
    parts += [f"{label_for(k)[0]} {_cell(v)}" for k, v in sorted(win_rate.items()) if k not in known]
    return ", ".join(parts) if parts else None


def render(mc: Json) -> list[RenderableType]:
    """The result table, the win rate and the verdict of a ModelComparison (raw object)."""
    from rich.text import Text

    from .output import table

    status, spec = mc.get("status") or {}, mc.get("spec") or {}
    results = status.get("results") or {}
    baseline, candidate = side_name(spec, "baseline"), side_name(spec, "candidate")
    name = (mc.get("metadata") or {}).get("name", "")
    items: list[RenderableType] = [Text.from_markup(f"[bold]ModelComparison {name}[/]: [bold]{candidate}[/] "
                                                    f"(candidate) against [bold]{baseline}[/] (baseline)")]
    rows = metric_rows(results)
    if rows:
        grid = table(["METRIC", f"BASELINE ({baseline})", f"CANDIDATE ({candidate})", "CHANGE"])
        for row in rows:
            grid.add_row(row.label, _cell(row.baseline), _cell(row.candidate), _change_cell(row))
        items.append(grid)
    line = win_rate_line(results.get("winRate") or {})
    if line:
        items.append(Text(f"win rate: {line}"))
    verdict = results.get("verdict")
    if verdict:
        style = VERDICT_STYLES.get(verdict, "bold")
        winner = {"candidate": candidate, "baseline": baseline}.get(verdict)
        items.append(Text.from_markup(f"verdict: [{style}]{verdict}[/]" + (f" ({winner} is better)" if winner else "")))
    for key in sorted(set(results) - {"baseline", "candidate", "winRate", "verdict"}):
        items.append(Text(f"{label_for(key)[0]}: {_cell(results[key])}"))
    if not rows and not verdict:
        items.append(Text(f"no results yet (phase {status.get('phase') or 'Pending'})"))
    return items
