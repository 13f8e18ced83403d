"""A ModelComparison's results as tables: quality (reference metrics) and serving (vllm bench serve's metrics), each
row baseline beside candidate with the paired difference and its 95% CI, then the win rate, the judge and the
verdict with its reason.

Data-driven: a metric under ``status.results.baseline`` / ``.candidate`` that is not known here still gets a row (a
percentile block becomes its p50, p95 and p99 rows), so a metric the evaluator adds later shows up without a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .output import number

if TYPE_CHECKING:
    from rich.console import RenderableType

Json = dict[str, Any]
Better = Literal["lower", "higher"] | None
SIDES = ("baseline", "candidate")
VERDICT_STYLES = {"candidate": "bold green", "baseline": "bold red", "inconclusive": "bold yellow"}
PERCENTILES = ("p50", "p95", "p99")

# key -> (label, better direction, the key of its paired difference in results.differences)
QUALITY: dict[str, tuple[str, Better, str | None]] = {
    "exactMatch": ("exact match", "higher", "exactMatch"),
    "tokenF1": ("token F1", "higher", "tokenF1"),
    "rougeL": ("ROUGE-L", "higher", "rougeL"),
}
SERVING: dict[str, tuple[str, Better, str | None]] = {
    "ttftMs": ("time to first token (ms)", "lower", "ttftMs"),
    "tpotMs": ("time per output token (ms)", "lower", "tpotMs"),
    "itlMs": ("inter-token latency (ms)", "lower", None),
    "latencyMs": ("end-to-end latency (ms)", "lower", "latencyMs"),
    "outputTokensPerSecond": ("output tokens/s", "higher", None),
    "requestsPerSecond": ("requests/s", "higher", None),
    "meanOutputTokens": ("mean output tokens", None, "outputTokens"),
    "completed": ("completed", "higher", None),
    "errors": ("failed requests", "lower", None),
}
_LOWER_HINTS = ("latency", "ttft", "error", "ms", "seconds", "cost")


@dataclass(frozen=True)
class MetricRow:
    key: str
    label: str
    baseline: Any
    candidate: Any
    better: Better
    difference: Json | None = None  # {mean, ci95} of candidate minus baseline, paired

    @property
    def winner(self) -> str | None:
        """Which side this metric favours: by the difference's CI when there is one (it must exclude 0), else by the
        values, when the better direction is known."""
        if self.better is None:
            return None
        ci = (self.difference or {}).get("ci95")
        if ci and len(ci) == 2:
            if ci[0] <= 0 <= ci[1]:
                return None
            up = ci[0] > 0
        else:
            b, c = self.baseline, self.candidate
            if not (_numeric(b) and _numeric(c)) or b == c:
                return None
            up = c > b
        return "candidate" if up == (self.better == "higher") else "baseline"


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def label_for(key: str) -> tuple[str, Better]:
    for known in (QUALITY, SERVING):
        if key in known:
            return known[key][0], known[key][1]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).lower()
    words = re.sub(r" ms$", " (ms)", words)
    better: Better = "lower" if any(hint in key.lower() for hint in _LOWER_HINTS) else None
    return words, better


def _rows_for(key: str, label: str, better: Better, sides: dict[str, Json], difference: Json | None) -> list[MetricRow]:
    values = {side: sides[side].get(key) for side in SIDES}
    if any(isinstance(v, dict) for v in values.values()):  # a percentile block: one row each
        blocks = {side: v if isinstance(v, dict) else {} for side, v in values.items()}
        rows = []
        for stat in PERCENTILES:
            if any(stat in b for b in blocks.values()):
                # The paired difference is of means: it goes with the mean row.
                rows.append(MetricRow(f"{key}.{stat}", f"{label} {stat}", blocks["baseline"].get(stat),
                                      blocks["candidate"].get(stat), better))
        if any("mean" in b for b in blocks.values()):
            rows.insert(0, MetricRow(f"{key}.mean", f"{label} mean", blocks["baseline"].get("mean"),
                                     blocks["candidate"].get("mean"), better, difference))
        return rows
    return [MetricRow(key, label, values["baseline"], values["candidate"], better, difference)]


def metric_rows(results: Json, which: str = "all") -> list[MetricRow]:
    """The rows of the quality metrics, the serving metrics, or all (with any metric not known here at the end)."""
    sides = {side: results.get(side) or {} for side in SIDES}
    differences = results.get("differences") or {}
    present = {k for s in SIDES for k in sides[s]}
    groups = {"quality": QUALITY, "serving": SERVING}
    chosen = [groups[which]] if which in groups else list(groups.values())
    rows: list[MetricRow] = []
    for known in chosen:
        for key, (label, better, diff_key) in known.items():
            if key in present:
                rows += _rows_for(key, label, better, sides, differences.get(diff_key) if diff_key else None)
    if which == "all":
        for key in sorted(present - set(QUALITY) - set(SERVING)):
            label, better = label_for(key)
            rows += _rows_for(key, label, better, sides, differences.get(key))
    return rows


def _cell(value: Any) -> str:
    return number(value, 4) if value is not None else "-"


def _difference_cell(row: MetricRow) -> str:
    difference = row.difference or {}
    if difference.get("mean") is None:
        return ""
    text = f"{difference['mean']:+.4g}"
    ci = difference.get("ci95")
    if ci and len(ci) == 2:
        text += f" [{ci[0]:.4g}, {ci[1]:.4g}]"
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
        text = f"candidate {win_rate['candidate']:.0%}"
        ci = win_rate.get("ci95")
        if ci and len(ci) == 2:
            text += f" (Wilson 95% CI {ci[0]:.0%} to {ci[1]:.0%})"
        parts.append(text)
    counts = [f"{win_rate[k]} {k}" for k in ("wins", "losses", "ties") if win_rate.get(k) is not None]
    if counts:
        parts.append(", ".join(counts))
    if win_rate.get("n") is not None:
        parts.append(f"n = {win_rate['n']}")
    if win_rate.get("basis"):
        parts.append(f"decided by {win_rate['basis']}")
    known = {"candidate", "baseline", "wins", "losses", "ties", "n", "ci95", "basis"}
    parts += [f"{label_for(k)[0]} {_cell(v)}" for k, v in sorted(win_rate.items()) if k not in known]
    return "; ".join(parts) if parts else None


def render(mc: Json) -> list[RenderableType]:
    """The result tables, the win rate and the verdict of a ModelComparison (raw object)."""
    from rich.text import Text

    from .output import table

    status, spec = mc.get("status") or {}, mc.get("spec") or {}
    results = status.get("results") or {}
    baseline, candidate = side_name(spec, "baseline"), side_name(spec, "candidate")
    name = (mc.get("metadata") or {}).get("name", "")
    items: list[RenderableType] = [Text.from_markup(f"[bold]ModelComparison {name}[/]: [bold]{candidate}[/] "
                                                    f"(candidate) against [bold]{baseline}[/] (baseline)")]
    headers = ["METRIC", f"BASELINE ({baseline})", f"CANDIDATE ({candidate})", "DIFFERENCE [95% CI]"]
    shown = False
    for title, which in (("quality", "quality"), ("serving", "serving"), ("other", "other")):
        rows = metric_rows(results, which) if which != "other" else [
            r for r in metric_rows(results) if r.key.split(".")[0] not in {*QUALITY, *SERVING}]
        if not rows:
            continue
        grid = table([title.upper(), *headers[1:]])
        for row in rows:
            grid.add_row(row.label, _cell(row.baseline), _cell(row.candidate), _difference_cell(row))
        items.append(grid)
        shown = True
    line = win_rate_line(results.get("winRate") or {})
    if line:
        items.append(Text(f"win rate: {line}"))
    judge = results.get("judge") or {}
    if judge:
        items.append(Text(f"judge: {judge.get('calls', 0)} calls, {judge.get('errors', 0)} errors, "
                          f"{judge.get('inconsistent', 0)} inconsistent pairs "
                          f"(rate {number(judge.get('inconsistencyRate'), 3)})"))
    if results.get("answerLengthRatio") is not None:
        items.append(Text(f"answer length ratio (candidate / baseline): {number(results['answerLengthRatio'], 3)}"))
    verdict = results.get("verdict")
    if verdict:
        style = VERDICT_STYLES.get(verdict, "bold")
        winner = {"candidate": candidate, "baseline": baseline}.get(verdict)
        items.append(Text.from_markup(f"verdict: [{style}]{verdict}[/]" + (f" ({winner} is better)" if winner else "")
                                      + (f" - {results['verdictReason']}" if results.get("verdictReason") else "")))
        if results.get("verdictMessage"):
            items.append(Text(f"  {results['verdictMessage']}"))
    if not shown and not verdict:
        items.append(Text(f"no results yet (phase {status.get('phase') or 'Pending'})"))
    return items
