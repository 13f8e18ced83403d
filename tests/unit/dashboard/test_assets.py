"""Chart.js is the one package-lock.json pins, built into the package by `make assets`, and nothing the pages load
comes from anywhere but the dashboard itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kubetune.dashboard.context import CHART_JS, STATIC

REPO = Path(__file__).resolve().parents[3]


def test_the_served_chart_js_is_the_locked_version() -> None:
    lock = json.loads((REPO / "frontend" / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/chart.js"]["version"]
    assert lock["packages"]["node_modules/chart.js"]["integrity"].startswith("sha512-")
    assert CHART_JS.is_file(), "run `make assets`"
    banner = CHART_JS.read_text()[:200]
    assert f"Chart.js v{locked}" in banner


def test_templates_and_script_load_nothing_from_elsewhere() -> None:
    templates = Path(STATIC).parent / "templates"
    sources = [*templates.glob("*.html"), STATIC / "dashboard.js", STATIC / "dashboard.css"]
    for path in sources:
        text = path.read_text()
        assert not re.search(r"(src|href)=\"https?://", text), path
        assert "cdn" not in text.lower(), path
        assert "<canvas" not in text or "aria-label" in text, path  # every chart says what it shows
    script = (STATIC / "dashboard.js").read_text()
    assert "getContext(" not in script, "charts are drawn by Chart.js, not by hand"
