"""What the dashboard's handlers share: its configuration, the application's keys (the database, the cluster, the
templates, the token), and ``render``, which gives every page what the layout needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment

from .actions.tokens import COOKIE, Tokens
from .cluster import Cluster
from .database import ReadOnlyDatabase

STATIC = Path(__file__).parent / "static"
CHART_JS = STATIC / "vendor" / "chart.umd.min.js"


@dataclass(frozen=True)
class DashboardConfig:
    database_url: str
    actions: bool = False
    token: str | None = field(default=None, repr=False)
    """The bearer token the actions require (never logged)."""
    refresh_seconds: float = 3.0
    """How often a live page polls (the issue allows at most every 5 s)."""


DB = web.AppKey("db", ReadOnlyDatabase)
CLUSTER = web.AppKey("cluster", Cluster)
TEMPLATES = web.AppKey("templates", Environment)
CONFIG = web.AppKey("config", DashboardConfig)
TOKENS = web.AppKey("tokens", Tokens)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A page, with what the layout needs: the database's health, the actions' state, the refresh interval."""
    app = request.app
    config = app[CONFIG]
    tokens = app.get(TOKENS)
    is_signed_in = signed_in(request)
    html = app[TEMPLATES].get_template(template).render(
        health=app[DB].health, actions=config.actions, signed_in=is_signed_in,
        csrf=tokens.csrf if tokens is not None and is_signed_in else "", refresh_ms=int(config.refresh_seconds * 1000),
        path=request.path, charts_built=CHART_JS.is_file(),
        static=lambda name: str(app.router["static"].url_for(filename=name)), **context)
    return web.Response(text=html, status=status, content_type="text/html")


def signed_in(request: web.Request) -> bool:
    tokens = request.app.get(TOKENS)
    return tokens is not None and tokens.cookie_ok(request.cookies.get(COOKIE))
