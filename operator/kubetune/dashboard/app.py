"""The aiohttp application: configuration, routes, security headers, and what every page shares (the database's
health for the banner, whether actions are on and signed in).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from . import api, pages
from .actions import views as action_views
from .actions.tokens import Tokens
from .cluster import Cluster
from .context import CHART_JS, CLUSTER, CONFIG, DB, STATIC, TEMPLATES, TOKENS, DashboardConfig
from .database import ReadOnlyDatabase
from .rendering import make_environment

log = logging.getLogger(__name__)
# Scripts, styles and images only from the dashboard itself (no CDN: many clusters are air-gapped); no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def readyz(request: web.Request) -> web.Response:
    """Ready when the mirror can be read and has its tables: beside a standby operator (whose SQLite file does not
    exist yet) the dashboard is not ready, so its Service sends people to the leader's."""
    db = request.app[DB]
    try:
        await db.read(api.count_jobs)
    except Exception as e:  # DatabaseDown, SchemaMissing: both mean "not this one"
        return web.Response(status=503, text=f"not ready: {e}")
    return web.Response(text="ok")


def make_app(config: DashboardConfig, cluster: Cluster | None = None) -> web.Application:
    app = web.Application(middlewares=[security_headers], client_max_size=1024 * 1024)
    app[CONFIG] = config
    app[DB] = ReadOnlyDatabase(config.database_url)
    app[CLUSTER] = cluster or Cluster(None, "no Kubernetes API configured")
    app[TEMPLATES] = make_environment()
    if config.actions:
        if not config.token:
            raise ValueError("actions need a token")
        app[TOKENS] = Tokens(config.token)

    async def start(app: web.Application) -> None:
        await app[CLUSTER].start()
        if not CHART_JS.is_file():
            log.warning("%s is missing: charts will not draw (build it with `make assets`)", CHART_JS)

    async def stop(app: web.Application) -> None:
        await app[CLUSTER].close()
        app[DB].close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    pages.add_routes(app.router)
    api.add_routes(app.router)
    action_views.add_routes(app.router)
    app.router.add_static("/static", STATIC, append_version=True, name="static")
    return app
